"""``pylo results``, ``--store-results`` and ``pylo resume --only``, through the real entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from test_cli import only_execution, pylo

KINDS = '''
def kinds(x):
    if x % 5 == 0:
        raise TimeoutError(f"slow {x}")
    if x % 7 == 0:
        raise ValueError(f"bad {x}")
    return {"x": x, "squared": x * x}

def fixed(x):
    return {"x": x, "fixed": True}

def as_set(x):
    return {x}
'''


@pytest.fixture
def cwd(tmp_path: Path) -> Path:
    (tmp_path / "jobs.py").write_text(KINDS)
    (tmp_path / "in.txt").write_text("\n".join(map(str, range(30))) + "\n")
    return tmp_path


def test_results_as_json_lines_and_resume_only_a_type(cwd: Path) -> None:
    ran = pylo(cwd, "run", "jobs:kinds", "--inputs", "in.txt", "--threads", "--store", "store", "--store-results",
               "--no-progress")
    assert ran.returncode == 1, ran.stderr
    eid = only_execution(cwd / "store")
    out = pylo(cwd, "results", "store", eid)
    assert out.returncode == 0, out.stderr
    ok = [x for x in range(30) if x % 5 and x % 7]
    assert [json.loads(line) for line in out.stdout.splitlines()] == [{"result": {"x": x, "squared": x * x}} for x in ok]
    with_input = pylo(cwd, "results", "store", eid, "--input")
    assert json.loads(with_input.stdout.splitlines()[0]) == {"input": 1, "result": {"x": 1, "squared": 1}}

    resumed = pylo(cwd, "resume", "store", eid, "--task", "jobs:fixed", "--threads", "--only", "TimeoutError",
                   "--store-results", "--no-progress", "--json")
    assert resumed.returncode == 1, resumed.stderr  # the ValueErrors were left out: still unfinished
    summary = json.loads(resumed.stdout)
    assert summary["unfinished"] == len([x for x in range(30) if x % 7 == 0 and x % 5])
    rows = [json.loads(line) for line in pylo(cwd, "results", "store", summary["execution_id"], "--input").stdout.splitlines()]
    assert [r["input"] for r in rows] == [x for x in range(30) if x % 7 or x % 5 == 0]
    assert rows[0] == {"input": 0, "result": {"x": 0, "fixed": True}}


def test_results_not_kept_exits_3_and_a_value_that_is_not_json_exits_2(cwd: Path) -> None:
    pylo(cwd, "run", "jobs:kinds", "--inputs", "in.txt", "--threads", "--store", "plain", "--no-progress")
    out = pylo(cwd, "results", "plain", only_execution(cwd / "plain"))
    assert out.returncode == 3 and "ran without store_results=True" in out.stderr
    pylo(cwd, "run", "jobs:as_set", "--inputs", "in.txt", "--threads", "--store", "sets", "--store-results",
         "--no-progress")
    out = pylo(cwd, "results", "sets", only_execution(cwd / "sets"))
    assert out.returncode == 2 and out.stdout == ""
    assert "result 0 (input 0) is not JSON-able" in out.stderr and "Pylo.get_results" in out.stderr


def test_help_lists_the_new_command_and_options(cwd: Path) -> None:
    assert pylo(cwd, "results", "--help").returncode == 0
    assert "--only" in pylo(cwd, "resume", "--help").stdout
