"""The notebooks in ``notebooks/`` are executed, cell by cell, in a real Jupyter kernel, from a
temporary directory: a notebook that no longer runs fails the suite, and none leaves files in the
repository."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

import nbclient
import nbformat

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def _run(name: str, cwd: Path) -> Any:
    shutil.copy(NOTEBOOKS / name, cwd / name)
    nb = nbformat.read(cwd / name, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=90, kernel_name="python3", resources={"metadata": {"path": str(cwd)}},
    )
    client.execute()
    return nb


def _outputs(nb: Any, kind: str) -> str:
    found = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if kind in out.get("data", {}):
                found.append(out["data"][kind])
            elif out.get("output_type") == "stream" and kind == out.get("name"):
                found.append(out["text"])
    return "\n".join(found)


def _repo_files() -> set[Path]:
    return set(NOTEBOOKS.iterdir())


def _wrote_nothing_beside(cwd: Path, name: str) -> None:
    """Run from the repository root, a notebook must leave nothing there: it writes to a
    temporary directory of its own."""
    assert sorted(p.name for p in cwd.iterdir()) == [name]


def test_notebook_list() -> None:
    assert {p.name for p in NOTEBOOKS.glob("*.ipynb")} == {"quickstart.ipynb", "resume-from-bucket.ipynb", "conditions.ipynb"}


def test_quickstart(tmp_path: Path) -> None:
    before = _repo_files()
    nb = _run("quickstart.ipynb", tmp_path)
    html = _outputs(nb, "text/html")
    assert "pylo-summary" in html and "pylo-workers" in html and "pylo-exceptions" in html
    # The store is in a temporary directory, by its absolute path: the resume line works anywhere.
    assert "ZeroDivisionError" in html and re.search(r"pylo resume /\S*/pylo-quickstart-\w+/store ", html)
    assert "Nothing left to do" in html
    _wrote_nothing_beside(tmp_path, "quickstart.ipynb")
    assert _repo_files() == before


def test_resume_from_bucket(tmp_path: Path) -> None:
    before = _repo_files()
    nb = _run("resume-from-bucket.ipynb", tmp_path)
    html = _outputs(nb, "text/html")
    assert "cancelled" in html and "pylo-resume" in html and "Nothing left to do" in html
    _wrote_nothing_beside(tmp_path, "resume-from-bucket.ipynb")
    assert _repo_files() == before


def test_conditions(tmp_path: Path) -> None:
    before = _repo_files()
    nb = _run("conditions.ipynb", tmp_path)
    assert "can no longer be satisfied" in _outputs(nb, "stdout")
    assert "Nothing left to do" in _outputs(nb, "text/html")
    _wrote_nothing_beside(tmp_path, "conditions.ipynb")
    assert _repo_files() == before
