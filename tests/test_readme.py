"""Every ```python block of README.md and of the pages in docs/ runs as pasted.

Each block is written to a file in a fresh temporary directory and run there as a script
(``runpy``, ``__name__ == "__main__"``): what a reader gets by pasting it into a file and running
it, Dask's spawned worker processes re-importing the script included. Two HTML comments, on the
line just before a block's opening fence, change that:

- ``<!-- no-run: REASON -->``: the block is not run (it needs a bucket, a scheduler...). The test
  is skipped with that reason, so ``-ra`` counts them, and ``test_few_blocks_are_not_run`` keeps
  them few.
- ``<!-- continues -->``: the block runs after the one before it, in its namespace and folder,
  as the next cell of a notebook would (a page can then show a call without repeating its setup).

Relative links between the pages are checked too: the file exists, and so does the heading an
anchor names.
"""

from __future__ import annotations

import re
import runpy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MAX_NOT_RUN = 6  # blocks that need what a test machine lacks (a bucket, a remote scheduler)

_FENCE = re.compile(r"^```(\S*)\s*$")
_MARKER = re.compile(r"^<!--\s*(no-run|continues)\s*:?\s*(.*?)\s*-->$")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # of the opening fence, 1-based
    language: str
    source: str
    marker: str | None  # "no-run", "continues" or None
    reason: str

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """The fenced code blocks of one Markdown page, with the marker just before each."""
    lines = page.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        fence = _FENCE.match(lines[i])
        if fence is None:
            i += 1
            continue
        end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == "```"), None)
        assert end is not None, f"{page.name}:{i + 1}: a code block that never closes"
        marker, reason = _marker_before(lines, i)
        found.append(Block(page, i + 1, fence.group(1), "\n".join(lines[i + 1:end]) + "\n", marker, reason))
        i = end + 1
    return found


def _marker_before(lines: list[str], fence: int) -> tuple[str | None, str]:
    j = fence - 1
    while j >= 0 and not lines[j].strip():
        j -= 1
    match = _MARKER.match(lines[j].strip()) if j >= 0 else None
    return (match.group(1), match.group(2)) if match else (None, "")


def python_groups() -> list[list[Block]]:
    """The Python blocks of every page, a block and those that continue it in one group."""
    groups: list[list[Block]] = []
    for page in PAGES:
        for block in blocks(page):
            if block.language != "python":
                continue
            if block.marker == "continues":
                assert groups and groups[-1][0].page == page, f"{block.name}: continues nothing"
                groups[-1].append(block)
            else:
                groups.append([block])
    return groups


GROUPS = python_groups()


@pytest.mark.parametrize("group", GROUPS, ids=[g[0].name for g in GROUPS])
def test_python_block_runs_as_pasted(group: list[Block], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if group[0].marker == "no-run":
        pytest.skip(f"no-run: {group[0].reason}")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {}
    for block in group:
        script = tmp_path / f"block_{block.line}.py"
        script.write_text(block.source, encoding="utf-8")
        # A failing block names its page and line: runpy's traceback shows only the script file.
        try:
            namespace = runpy.run_path(str(script), init_globals=namespace, run_name="__main__")
        except BaseException as exc:
            raise AssertionError(f"{block.name} failed: {exc!r}") from exc


def test_few_blocks_are_not_run() -> None:
    not_run = [g[0].name for g in GROUPS if g[0].marker == "no-run"]
    assert len(not_run) <= MAX_NOT_RUN, not_run
    assert all(g[0].reason for g in GROUPS if g[0].marker == "no-run"), "a no-run marker must say why"


def test_readme_starts_with_the_two_commands() -> None:
    """A newcomer's first two commands, and CI's test command, open the README."""
    first = blocks(ROOT / "README.md")[0]
    commands = [line.split("#")[0].strip() for line in first.source.splitlines()]
    assert first.language == "bash" and commands[:2] == ["make demo", "make test"], first.source


_LINK = re.compile(r"\]\(([^)\s]+)\)")


def _anchors(page: Path) -> set[str]:
    """GitHub's anchors for a page's headings: lower case, punctuation dropped, spaces to dashes."""
    anchors = set()
    in_code = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if _FENCE.match(line):
            in_code = not in_code
        elif not in_code and line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_relative_links_resolve(page: Path) -> None:
    broken = []
    for target in _LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"^[a-z]+:", target):
            continue  # http(s), mailto: not checked offline
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(target)
        elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
            broken.append(target)
    assert not broken, f"{page.name}: broken links {broken}"


def test_block_parser_reads_markers(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "text\n```python\na = 1\n```\n\n<!-- continues -->\n```python\nassert a == 1\n```\n"
        "<!-- no-run: needs a bucket -->\n\n```python\nimport s3\n```\n```bash\nls\n```\n",
        encoding="utf-8",
    )
    found = blocks(page)
    assert [(b.line, b.language, b.marker, b.reason) for b in found] == [
        (2, "python", None, ""), (7, "python", "continues", ""), (12, "python", "no-run", "needs a bucket"),
        (15, "bash", None, ""),
    ]
    assert found[0].source == "a = 1\n"

