"""A damaged store: truncated, garbage, missing and future-version objects. Each read names the
object in a ``CorruptSnapshot`` / ``IncompatibleSnapshot``; none makes an input count as finished;
``verify`` lists every damaged object at once without running a pickle."""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import tasks
from pylo._ui.cli_text import ls_row
from pylo.store._layout import MAX_JSON_BYTES
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


def _deeply_nested(path: Path) -> None:
    path.write_bytes(b"[" * 200_000)  # json.loads would die of RecursionError


def _fifo(path: Path) -> None:
    """A named pipe: opening it for reading blocks until a writer comes, i.e. forever."""
    path.unlink()
    os.mkfifo(path)


def _link_to_a_directory(path: Path) -> None:
    elsewhere = Path(tempfile.mkdtemp(dir=path.parents[4]))  # beside the store
    (elsewhere / "000000-0123456789ab").write_text("{}")
    path.unlink()
    path.symlink_to(elsewhere, target_is_directory=True)


def _a_billion_workers(path: Path) -> None:
    obj = json.loads(path.read_bytes())
    obj["workers"] = 1_000_000_000  # a summary would loop over every one of them
    path.write_text(json.dumps(obj))


def _overlapping_blocks(path: Path) -> None:
    obj = json.loads(path.read_bytes())
    obj["blocks"][1][0] -= 1  # the sizes still add up, the positions do not
    obj["blocks"][0][1] += 1
    path.write_text(json.dumps(obj))


DAMAGE: list[tuple[str, str, Callable[[Path], None], type]] = [
    ("deeply nested manifest", "execution.json", _deeply_nested, CorruptSnapshot),
    ("a manifest with a billion workers", "execution.json", _a_billion_workers, CorruptSnapshot),
    ("a manifest whose blocks overlap", "execution.json", _overlapping_blocks, CorruptSnapshot),
    ("deeply nested segment", "progress", _deeply_nested, CorruptSnapshot),
    ("a FIFO at a segment path", "progress", _fifo, CorruptSnapshot),
    ("a link to a directory at a segment path", "progress", _link_to_a_directory, CorruptSnapshot),
    ("a FIFO at an input block", "inputs", _fifo, CorruptSnapshot),
    ("a link to a directory at an input block", "inputs", _link_to_a_directory, CorruptSnapshot),
    ("a FIFO at exception records", "errors", _fifo, CorruptSnapshot),
    ("deeply nested exception records", "errors", _deeply_nested, CorruptSnapshot),
    ("a FIFO at a worker outcome", "workers", _fifo, CorruptSnapshot),
    ("deeply nested worker outcome", "workers", _deeply_nested, CorruptSnapshot),
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
    "workers": ("summary",),
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
    if kind not in ("errors", "workers"):
        assert pylo.executions() == [eid]  # a refused resume left no execution behind
    row = ls_row(pylo.store, eid)  # `pylo ls` shows it as a damaged row and goes on
    if "summary" in READS[kind]:
        assert row["status"] == "damaged" and str(path) in row["error"]


def test_an_object_too_large_for_its_kind_is_refused_unread(pylo: Pylo, eid: str) -> None:
    segment = _one(pylo, eid, "progress")
    with open(segment, "r+b") as fh:
        fh.truncate(MAX_JSON_BYTES + 1)  # sparse: reading it would allocate 64 MB
    with pytest.raises(CorruptSnapshot, match="larger than the") as info:
        pylo.summary(eid)
    assert info.value.path == str(segment)
    assert [p.path for p in pylo.verify(eid).problems] == [str(segment)]


def test_a_tiny_store_claiming_ten_billion_inputs_is_refused_before_allocating(tmp_path: Path) -> None:
    """A 400-byte manifest and a segment that say 10^10 inputs finished: merging them would
    build a set of 10^10 positions (MemoryError); the manifest is refused first."""
    pylo = Pylo.local_multithread(str(tmp_path / "s"), number_of_workers=1)
    eid = pylo.start_from_scratch([1], tasks.noop, progress=False)
    manifest = Path(pylo.store.layout.manifest(eid))
    obj = json.loads(manifest.read_bytes())
    obj.update(n_inputs=10**10, blocks=[[0, 10**10, 0]])
    manifest.write_text(json.dumps(obj))
    segment = _one(pylo, eid, "progress")
    seg = json.loads(segment.read_bytes())
    seg["finished"] = [[0, 10**10]]
    segment.write_text(json.dumps(seg))
    for read in (pylo.summary, pylo.get_state, pylo.verify):
        try:
            result = read(eid)
        except CorruptSnapshot as exc:
            assert exc.path == str(manifest) and "block 0" in str(exc)
        else:
            assert not result.ok and result.problems[0].path == str(manifest)  # verify reports it
    obj["config"]["block_size"] = 10**10  # a block size no pylo writes is refused too
    manifest.write_text(json.dumps(obj))
    with pytest.raises(CorruptSnapshot, match="block_size"):
        pylo.summary(eid)


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


# -- what a writer killed mid-write leaves ----------------------------------------------------------


def _leftover(directory: Path, age: float) -> Path:
    """A temp file as a writer killed mid-write leaves it: half an object, ``age`` seconds old."""
    path = directory / ".tmp-0123456789abcdef0123456789abcdef"
    path.write_bytes(b'{"format": 1, "block": 0, "fini')
    os.utime(path, (time.time() - age, time.time() - age))
    return path


def test_temp_files_of_killed_writers_are_ignored_then_removed(pylo: Pylo, eid: str) -> None:
    segments = _one(pylo, eid, "progress").parent
    stale, young = _leftover(segments, age=3600), _leftover(segments.parent, age=0)
    before = (pylo.get_state(eid), pylo.summary(eid).finished)
    report = pylo.verify(eid)
    assert report.ok and report.leftovers == (str(stale),) and stale.exists()  # listed, not removed
    assert "1 temporary files left by killed writers" in str(report)
    assert pylo.verify(eid, repair=True).leftovers == (str(stale),) and not stale.exists()
    assert young.exists()  # may be a write still going on
    assert (pylo.get_state(eid), pylo.summary(eid).finished) == before


def test_a_resume_removes_the_stale_temp_files_of_its_chain(pylo: Pylo, eid: str) -> None:
    stale = _leftover(_one(pylo, eid, "errors").parent, age=3600)
    pylo.start_from_past_execution(eid, tasks.noop, progress=False)
    assert not stale.exists()


def test_local_writes_are_fsynced_file_and_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A power cut must not leave a visible object empty or lose a rename: the temp file is
    fsynced before it is renamed, its directory after (and a new directory's parent)."""
    from pylo.store._fs import Files

    synced: list[str] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    files = Files(str(tmp_path / "store"))
    files.put(files.root + "/new/obj", b"data")
    new = str(tmp_path / "store" / "new")
    (data,) = [i for i, p in enumerate(synced) if p.startswith(new + "/.tmp-")]  # the data, before the rename
    assert synced[-1] == new and data == len(synced) - 2  # then the rename, in its directory
    assert set(synced[:data]) == {str(tmp_path), str(tmp_path / "store")}  # the new directories' names
    synced.clear()
    assert files.put_new(files.root + "/new/claim", b"x")
    assert synced[0].startswith(str(tmp_path / "store" / "new" / ".tmp-")) and synced[1:] == [str(tmp_path / "store" / "new")]
    synced.clear()  # a flush's segment: its data, not its name (a power cut may lose it whole)
    files.put(files.root + "/new/segment", b"x", keep_name=False)
    assert len(synced) == 1 and synced[0].startswith(new + "/.tmp-")


def test_segments_and_records_keep_their_data_manifests_their_names_too(
    pylo: Pylo, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    eid = pylo.start_from_scratch(range(10), tasks.fail_multiples_of_7, progress=False)
    execution = pylo.store.layout.execution(eid)
    dirs = {p[len(execution) + 1:] for p in synced if p.startswith(execution) and "/.tmp-" not in p}
    assert {"inputs", "workers", "claims"} <= dirs  # the names that must survive
    # Per flush, data only: the block directories holding segments and records are never fsynced
    # (their parents are, once, when a block's directory is created).
    assert not any(d.startswith(("progress/", "errors/")) for d in dirs), dirs
    data = {p[len(execution) + 1:].split("/")[0] for p in synced if "/.tmp-" in p and p.startswith(execution)}
    assert {"progress", "errors", "workers"} <= data
    # A small run's inputs objects are written in place (nothing reads them before the manifest)
    # and fsynced each; their names are kept by one fsync of their directory, after the last
    # object's data and before the manifest is written: never one per object. (A large one's are
    # made durable by one syncfs instead: see the local files' tests.)
    inputs = f"{execution}/inputs"
    at = [i for i, p in enumerate(synced) if p == inputs]
    blocks = [i for i, p in enumerate(synced) if p.startswith(inputs + "/")]
    manifest = min(i for i, p in enumerate(synced) if p.startswith(execution + "/.tmp-"))
    assert blocks and not any("/.tmp-" in synced[i] for i in blocks)
    assert len(at) == 1 and max(blocks) < at[0] < manifest, (at, blocks, manifest)
    # Leases say something is alive, which a power cut makes false anyway: never fsynced.
    leases = pylo.store.layout.leases_dir(eid)[len(execution) + 1:]
    assert leases not in data and not any(d.startswith(leases) for d in dirs), (data, dirs)
    assert pylo.store.files.find(pylo.store.layout.leases_dir(eid))  # they were written


READ_ONLY = """
import os, sys
from pylo import Pylo, StoreNotWritable
store = sys.argv[1]
pylo = Pylo.local_multithread(store, number_of_workers=1, task_executions_before_flush=2, block_size=100)

def task(x):
    if x == 4:  # the store becomes read-only mid-run: the next flush is refused
        for directory, _dirs, _files in os.walk(store):
            os.chmod(directory, 0o555)

try:
    pylo.start_from_scratch((x for x in range(10)), task, progress=False)  # one block of ten
except StoreNotWritable as exc:
    print("refused:", exc)
"""


def test_a_store_made_read_only_names_the_first_refused_write() -> None:
    """Before: the segment write failed, then recording the worker's outcome failed too, and
    that second error (naming workers/) was the one raised."""
    import shutil
    import subprocess
    import sys

    command = [sys.executable]
    if os.geteuid() == 0:  # root writes through any mode: run the script without that power
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv (util-linux): modes cannot stop a write")
        command = [setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner", "--", sys.executable]
    root = tempfile.mkdtemp(prefix="pylo-read-only-")
    try:
        script = os.path.join(root, "job.py")
        with open(script, "w") as fh:
            fh.write(READ_ONLY)
        result = subprocess.run([*command, script, os.path.join(root, "store")], capture_output=True,
                                text=True, timeout=60, cwd=root)
        assert result.stdout.startswith("refused: "), (result.stdout, result.stderr)
        assert "/progress/000000/" in result.stdout and "/workers" not in result.stdout
    finally:
        for directory, _dirs, _files in os.walk(root):
            os.chmod(directory, 0o777)
        shutil.rmtree(root)


@pytest.mark.parametrize("kind", ["manifest", "segment"])
def test_on_s3_an_object_too_large_is_refused_from_its_listed_size(
    moto_server: Any, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """On an object store the size comes from the listing (or a HEAD for a manifest) before any
    GET: shrink the limit below what pylo wrote and the reads refuse, naming the object."""
    import pylo.store._store as store_module

    url = f"s3://{moto_server.new_bucket()}/store"
    pylo = Pylo.local_multithread(url, storage_options=moto_server.options(), number_of_workers=1)
    eid = pylo.start_from_scratch(range(5), tasks.noop, progress=False)
    sizes = pylo.store.files.find_sized(pylo.store.layout.progress_dir(eid))
    assert sizes and all(isinstance(n, int) and n > 20 for n in sizes.values())  # sizes from the listing
    manifest = pylo.store.read_manifest(eid)
    monkeypatch.setattr(store_module, "MAX_JSON_BYTES", 20)
    with pytest.raises(CorruptSnapshot, match="larger than the 20") as info:
        pylo.store.read_states(manifest) if kind == "segment" else pylo.store.read_manifest(eid)
    expected = pylo.store.layout.manifest(eid) if kind == "manifest" else next(iter(sizes))
    assert info.value.path == expected
