"""The local disk under the store: what is fsynced, how objects are read and created, and the
directories of a new execution made at once. Counted on a real file system, not mocked."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

import tasks
from pylo import Config
from pylo._core.plan import plan_execution
from pylo.errors import CorruptSnapshot
from pylo.store import Store
from pylo.store._fs import Files
from pylo.store._segments import Segment


def _count_fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What each fsync was of: "dir" or "file"."""
    synced: list[str] = []
    real = os.fsync

    def counted(fd: int) -> None:
        synced.append("dir" if os.path.isdir(f"/proc/self/fd/{fd}") else "file")
        real(fd)

    monkeypatch.setattr(os, "fsync", counted)
    return synced


def test_a_new_execution_has_its_directories_before_its_workers_write(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "store"))
    manifest = plan_execution(store, range(10), tasks.noop, Config(), 2)
    for directory in ("inputs", "progress", "taken", "leases", "workers", "claims"):
        assert (tmp_path / "store" / manifest.id / directory).is_dir()


def test_the_directories_of_an_execution_cost_one_fsync_each_that_holds_new_ones(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(str(tmp_path / "store"))
    (tmp_path / "store").mkdir()
    synced = _count_fsyncs(monkeypatch)
    store.prepare("20261207T120000000000Z-0a0b0c0d")
    assert synced == ["dir", "dir"]  # the store's root (for the execution) and the execution's


def test_a_segment_of_a_new_block_fsyncs_itself_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(str(tmp_path / "store"))
    manifest = plan_execution(store, range(10), tasks.noop, Config(), 2)
    synced = _count_fsyncs(monkeypatch)
    store.write_segment(manifest.id, Segment(block=0, finished=((0, 3),)), 0, "0123456789ab")
    # a power cut may lose it whole, and so its block's new directory: its inputs run again
    assert synced == ["file"]


def test_an_object_the_store_keeps_fsyncs_a_new_directory_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = Files(str(tmp_path / "store"))
    synced = _count_fsyncs(monkeypatch)
    files.put(f"{tmp_path}/store/a/b.json", b"{}")
    assert synced == ["dir", "dir", "file", "dir"]  # store/ and a/ made, the data, its name


@pytest.mark.parametrize("size", [0, 1, 4096, 65536, 65536 * 3 + 7])
def test_a_local_read_returns_the_whole_object(tmp_path: Path, size: int) -> None:
    files = Files(str(tmp_path))
    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    files.put(f"{tmp_path}/x", data)
    assert files.get(f"{tmp_path}/x") == data
    assert files.get(f"{tmp_path}/x", size) == data  # exactly at its limit


def test_a_local_read_past_its_limit_is_refused(tmp_path: Path) -> None:
    files = Files(str(tmp_path))
    files.put(f"{tmp_path}/x", b"x" * 101)
    with pytest.raises(CorruptSnapshot, match="101 bytes, larger than the 100"):
        files.get(f"{tmp_path}/x", 100)


def test_a_create_only_write_creates_once(tmp_path: Path) -> None:
    files = Files(str(tmp_path))
    assert files.put_new(f"{tmp_path}/new/one.json", b"1") is True  # its directory made on the way
    assert files.put_new(f"{tmp_path}/new/one.json", b"2") is False
    assert files.get(f"{tmp_path}/new/one.json") == b"1"
    assert [n for n in os.listdir(tmp_path / "new")] == ["one.json"]  # no temp file left


def test_a_path_that_became_a_directory_while_being_removed_is_removed(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    files = Files(str(tmp_path))
    files.put(f"{tmp_path}/run/inputs/000000", b"x")
    target = f"{tmp_path}/run"
    real = os.path.isdir
    looked: list[str] = []

    def not_yet(path: str) -> bool:  # the look came before a late writer made the directory
        if path == target and not looked:
            looked.append(path)
            return False
        return real(path)

    monkeypatch.setattr(os.path, "isdir", not_yet)
    files.rm(target)
    assert looked and not (tmp_path / "run").exists()


def _count_syncfs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    from pylo.store import _fs

    whole: list[str] = []
    real = _fs._syncfs

    def counted(directory: str) -> None:
        whole.append(directory)
        real(directory)

    monkeypatch.setattr(_fs, "_syncfs", counted)
    return whole


def _count_renames(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    renamed: list[str] = []
    real = os.replace

    def replace(src: str, dst: str) -> None:
        renamed.append(dst)
        real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    return renamed


def _inputs_objects(tmp_path: Path, manifest: Any) -> int:
    return len(os.listdir(tmp_path / "store" / manifest.id / "inputs"))


def test_the_input_objects_of_a_large_execution_are_made_durable_at_once(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from pylo._core import plan
    from pylo.store import _fs

    store = Store(str(tmp_path / "store"))
    plan_execution(store, range(10), tasks.noop, Config(), 2)  # the store's own directories exist
    if _fs._libc_syncfs() is None:
        pytest.skip("no syncfs here: each inputs object is fsynced as it is written")
    monkeypatch.setattr(plan, "EACH_SYNCED", 4)
    monkeypatch.setattr(plan, "SHARE_BLOCKS", 2)
    synced, whole, renamed = _count_fsyncs(monkeypatch), _count_syncfs(monkeypatch), _count_renames(monkeypatch)
    manifest = plan_execution(store, range(400), tasks.noop, Config(), 8)
    assert _inputs_objects(tmp_path, manifest) > 8
    assert whole == [f"{tmp_path}/store/{manifest.id}/inputs"]  # one call for the objects past the first four
    # the first four objects, the manifest; the execution's new directories: its root's, its own
    assert synced.count("file") == 4 + 1 and synced.count("dir") <= 3
    assert renamed == []  # the objects are written in place: nothing reads them before the manifest


def test_the_input_objects_of_a_small_execution_are_fsynced_each(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from pylo._core import plan

    store = Store(str(tmp_path / "store"))
    plan_execution(store, range(10), tasks.noop, Config(), 2)
    monkeypatch.setattr(plan, "SHARE_BLOCKS", 2)
    synced, whole = _count_fsyncs(monkeypatch), _count_syncfs(monkeypatch)
    manifest = plan_execution(store, range(400), tasks.noop, Config(), 8)
    # a syncfs would also wait for whatever else the file system is writing
    objects = _inputs_objects(tmp_path, manifest)
    assert objects > 8 and whole == [] and synced.count("file") == objects + 1  # each object, then the manifest


def test_without_syncfs_each_input_object_is_fsynced_as_it_is_written(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from pylo._core import plan
    from pylo.store import _fs

    store = Store(str(tmp_path / "store"))
    plan_execution(store, range(10), tasks.noop, Config(), 2)
    monkeypatch.setattr(_fs, "_libc_syncfs", lambda: None)
    monkeypatch.setattr(plan, "EACH_SYNCED", 4)
    monkeypatch.setattr(plan, "SHARE_BLOCKS", 2)
    synced = _count_fsyncs(monkeypatch)
    manifest = plan_execution(store, range(400), tasks.noop, Config(), 8)
    objects = _inputs_objects(tmp_path, manifest)
    assert objects > 8 and synced.count("file") == objects + 1  # each object, then the manifest


def test_a_new_directory_in_an_existing_one_is_one_mkdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    for name in ("mkdir", "stat", "lstat"):
        real = getattr(os, name)

        def counted(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            calls.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(os, name, counted)
    assert Files._create(str(tmp_path / "a")) == [str(tmp_path / "a")]
    assert calls == ["mkdir"]
    assert Files._create(str(tmp_path / "a")) == []  # there already
    assert Files._create(str(tmp_path / "b" / "c" / "d")) == [str(tmp_path / p) for p in ("b", "b/c", "b/c/d")]
    (tmp_path / "f").write_text("x")
    with pytest.raises(FileExistsError):
        Files._create(str(tmp_path / "f"))  # a file in the way is not a directory


def test_only_an_object_store_is_remote(tmp_path: Path, moto_server: Any) -> None:
    # Where a request waits on no network, a worker reads inline instead of starting threads.
    assert not Files(str(tmp_path / "store")).remote
    assert not Files(f"memory://remote-{tmp_path.name}").remote
    assert Files(f"s3://{moto_server.new_bucket()}/store", moto_server.options()).remote
