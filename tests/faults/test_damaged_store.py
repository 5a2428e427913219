"""A damaged store: truncated, garbage, missing and future-version objects. Each read names the
object in a ``CorruptSnapshot`` / ``IncompatibleSnapshot``; none makes an input count as finished;
``verify`` lists every damaged object at once without running a pickle."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import tasks
from pylo import CorruptSnapshot, ExecutionNotFound, IncompatibleSnapshot, InvalidArgument, Pylo, SnapshotError


@pytest.fixture
def pylo(tmp_path: Path) -> Pylo:
    return Pylo.local_multithread(str(tmp_path / "s"), number_of_workers=2, block_size=5)


@pytest.fixture
def eid(pylo: Pylo) -> str:
    return pylo.start_from_scratch(range(20), tasks.fail_multiples_of_7, progress=False)


def _one(pylo: Pylo, eid: str, kind: str) -> Path:
    """The path of the first object of ``kind`` (progress, errors, inputs, workers)."""
    return Path(sorted(pylo.store.files.find(f"{pylo.store.layout.execution(eid)}/{kind}"))[0])


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])


def _garbage(path: Path) -> None:
    path.write_bytes(b"\x00\xffnot what pylo wrote")


def _future_version(path: Path) -> None:
    obj = json.loads(path.read_bytes())
    obj["format"] = 99
    path.write_text(json.dumps(obj))


def _finish_everything(path: Path) -> None:
    """A well-formed segment that claims positions outside its block."""
    obj = json.loads(path.read_bytes())
    obj["finished"] = [[0, 10_000]]
    path.write_text(json.dumps(obj))


DAMAGE: list[tuple[str, str, Callable[[Path], None], type]] = [
    ("truncated manifest", "execution.json", _truncate, CorruptSnapshot),
    ("manifest of an unknown version", "execution.json", _future_version, IncompatibleSnapshot),
    ("garbage segment", "progress", _garbage, CorruptSnapshot),
    ("truncated segment", "progress", _truncate, CorruptSnapshot),
    ("segment out of its block", "progress", _finish_everything, CorruptSnapshot),
    ("segment of an unknown version", "progress", _future_version, IncompatibleSnapshot),
    ("missing input block", "inputs", Path.unlink, CorruptSnapshot),
    ("truncated input block", "inputs", _truncate, CorruptSnapshot),
    ("garbage exception records", "errors", _garbage, CorruptSnapshot),
]


# Which reads depend on which objects (the summary reads JSON only; state needs no records).
READS = {
    "execution.json": ("state", "resume", "summary", "exceptions"),
    "progress": ("state", "resume", "summary"),
    "inputs": ("state", "resume"),
    "errors": ("exceptions",),
}


@pytest.mark.parametrize(("what", "kind", "damage", "error"), DAMAGE, ids=[d[0] for d in DAMAGE])
def test_damage_is_named_and_never_finishes_an_input(
    pylo: Pylo, eid: str, what: str, kind: str, damage: Callable[[Path], None], error: type
) -> None:
    path = Path(pylo.store.layout.manifest(eid)) if kind == "execution.json" else _one(pylo, eid, kind)
    damage(path)
    reads: dict[str, Callable[[], Any]] = {
        "state": lambda: pylo.get_state(eid),
        "resume": lambda: pylo.resume(eid, tasks.noop).wait(),
        "summary": lambda: pylo.summary(eid),
        "exceptions": lambda: pylo.get_exceptions(eid),
    }
    for name in READS[kind]:
        with pytest.raises(error) as info:
            reads[name]()
        assert info.value.path == str(path) and str(path) in str(info.value), name
    report = pylo.verify(eid)
    assert not report.ok and [p.path for p in report.problems] == [str(path)]
    assert report.problems[0].error == error.__name__
    if kind != "errors":
        assert pylo.executions() == [eid]  # a refused resume left no execution behind


def test_verify_reports_every_damaged_object_at_once(pylo: Pylo, eid: str) -> None:
    healthy = pylo.verify(eid)
    assert healthy.ok and healthy.checked >= 8
    damaged = [_one(pylo, eid, "progress"), _one(pylo, eid, "inputs"), _one(pylo, eid, "errors"), _one(pylo, eid, "workers")]
    _garbage(damaged[0]), damaged[1].unlink(), _truncate(damaged[2]), _future_version(damaged[3])
    report = pylo.verify(eid)
    assert sorted(p.path for p in report.problems) == sorted(map(str, damaged))
    assert "4 damaged" in str(report)


def test_verify_follows_the_chain_of_parents(pylo: Pylo, eid: str) -> None:
    child = pylo.start_from_past_execution(eid, tasks.noop, progress=False)
    segment = _one(pylo, eid, "progress")
    _garbage(segment)
    assert [p.path for p in pylo.verify(child).problems] == [str(segment)]
    with pytest.raises(CorruptSnapshot):
        pylo.get_state(child)  # the parent's finished inputs are part of the child's state


def test_an_unexpected_object_is_reported(pylo: Pylo, eid: str) -> None:
    stray = Path(pylo.store.layout.progress_dir(eid)) / "999999" / "000000-0123456789ab"
    stray.parent.mkdir()
    stray.write_text('{"format": 1, "block": 999999, "finished": [], "failed": [], "retried": []}')
    with pytest.raises(CorruptSnapshot, match="no such block"):
        pylo.get_state(eid)
    assert [p.path for p in pylo.verify(eid).problems] == [str(stray)]


def test_verify_refuses_unknown_and_malformed_ids(pylo: Pylo) -> None:
    with pytest.raises(ExecutionNotFound):
        pylo.verify("20200101T000000000000Z-00000000")
    with pytest.raises(InvalidArgument):
        pylo.verify("../x")


def test_snapshot_errors_pickle_with_their_path() -> None:
    import pickle

    for cls in (CorruptSnapshot, IncompatibleSnapshot):
        again = pickle.loads(pickle.dumps(cls("bad object /a/b", "/a/b")))
        assert isinstance(again, SnapshotError) and again.path == "/a/b" and str(again) == "bad object /a/b"
