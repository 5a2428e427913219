"""The store's contract on every kind of bucket users have: local disk, memory://, S3 (moto), GCS
(fake-gcs-server) and Azure (Azurite), each reached through its own fsspec implementation (s3fs,
gcsfs, adlfs) over HTTP on 127.0.0.1. Claims, create-only writes, segments and their compaction,
leases, the cancel marker, and a whole run with its resume. Two clients racing for one claim
(exactly one wins) is in tests/faults/test_claims.py, on the same stores.

A store whose fsspec implementation cannot create an object atomically is refused for claims."""

from __future__ import annotations

import threading
from typing import Any

import fsspec
import pytest
from fsspec.implementations.memory import MemoryFileSystem
from fsspec.spec import AbstractFileSystem

import tasks
from buckets import STORE_KINDS, bucket_spec
from pylo import ExecutionClaimed, InvalidArgument, Pylo
from pylo.store import BlockInfo, Segment, Store, new_execution_id
from pylo.store._fs import atomic_create

Spec = tuple[str, dict[str, Any]]


@pytest.fixture(params=STORE_KINDS)
def bucket(request: pytest.FixtureRequest, tmp_path: Any) -> Spec:
    return bucket_spec(request, request.param, tmp_path)


def test_a_create_only_write_creates_once_and_keeps_the_first(bucket: Spec) -> None:
    url, options = bucket
    store = Store(url, options)
    assert atomic_create(store.files.fs) is not None
    path = f"{store.files.root}/x/claims/1.json"
    assert store.files.put_new(path, b"first") is True
    assert store.files.put_new(path, b"second") is False
    assert store.files.get(path) == b"first"


def test_the_service_itself_refuses_a_second_create(bucket: Spec, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two racers may both find the object absent before either writes: the write itself must
    then be refused by the service (the conditional header, not the check before it)."""
    url, options = bucket
    store = Store(url, options)
    monkeypatch.setattr(store.files, "exists", lambda path: False)
    path = f"{store.files.root}/x/claims/1.json"
    assert store.files.put_new(path, b"first") is True
    assert store.files.put_new(path, b"second") is False
    assert store.files.get(path) == b"first"


def test_a_claim_is_taken_once_refused_while_held_and_taken_again_once_released(bucket: Spec) -> None:
    url, options = bucket
    store, eid = Store(url, options), new_execution_id()
    claim = store.claim(eid)
    try:
        assert claim.generation == 1
        with pytest.raises(ExecutionClaimed):
            store.claim(eid)
        holder = Store(url, options).claim_holder(eid)
        assert holder is not None and holder.token == claim.holder.token
    finally:
        store.release(claim)
    again = store.claim(eid)
    store.release(again)
    assert again.generation == 2
    assert Store(url, options).claim_holder(eid) is None


def test_segments_merge_on_read_and_survive_compaction(bucket: Spec) -> None:
    url, options = bucket
    store, eid = Store(url, options), new_execution_id()
    info = BlockInfo(block=0, start=0, count=10, worker=0)
    parts = [Segment(block=0, finished=((0, 3),)), Segment(block=0, finished=((3, 5),), failed=((7, 2),)),
             Segment(block=0, finished=((0, 3),))]  # a rerun wrote the first part again
    for seq, seg in enumerate(parts):
        store.write_segment(eid, seg, seq, "a" * 12 if seq < 2 else "b" * 12)
    before = store.read_block_state(eid, info)
    assert sorted(before.finished) == [0, 1, 2, 3, 4] and before.failed == {7: 2}
    # Compaction: the compact object is written first, then the parts are deleted.
    listed = store.files.find(store.layout.progress_dir(eid, 0))
    store.write_segment(eid, Segment(block=0, finished=((0, 5),), failed=((7, 2),)), 9, "c" * 12)
    for path in listed:
        store.files.rm(path)
    after = store.read_block_state(eid, info)
    assert sorted(after.finished) == sorted(before.finished) and after.failed == before.failed


def test_leases_say_who_is_alive_until_they_end(bucket: Spec) -> None:
    url, options = bucket
    store, eid = Store(url, options), new_execution_id()
    store.write_lease(eid, "worker-0000", "w1", 30.0)
    store.write_lease(eid, "worker-0001", "w2", 30.0)
    assert sorted(lease.name for lease in store.live_leases(eid)) == ["worker-0000", "worker-0001"]
    store.write_lease(eid, "worker-0000", "w1", 30.0, ended=True)  # the one rewritten object
    assert [lease.name for lease in store.live_leases(eid)] == ["worker-0001"]
    assert store.is_running(eid)
    assert not Store(url, options).live_leases(eid, now=10**12)  # expired, read by another client


def test_the_cancel_marker_is_seen_by_another_client(bucket: Spec) -> None:
    url, options = bucket
    eid = new_execution_id()
    assert not Store(url, options).cancel_requested(eid)
    Store(url, options).request_cancel(eid)
    assert Store(url, options).cancel_requested(eid)


@pytest.mark.parametrize("backend", ["threads", "dask"])
def test_a_run_and_its_resume(bucket: Spec, backend: str, request: pytest.FixtureRequest) -> None:
    url, options = bucket
    if backend == "threads":
        pylo = Pylo.local_multithread(url, number_of_workers=2, storage_options=options, block_size=7)
    else:  # Dask worker processes reach the bucket with the same storage_options
        client = request.getfixturevalue("dask_inproc_client" if url.startswith("memory://") else "dask_client")
        pylo = Pylo.dask(client, url, number_of_workers=2, storage_options=options, block_size=7)
    eid = pylo.start_from_scratch(range(20), tasks.fail_multiples_of_7)
    assert pylo.get_state(eid)[1] == [0, 7, 14]
    assert len(pylo.get_exceptions(eid)) == 3
    new = pylo.start_from_past_execution(eid, tasks.noop)
    assert pylo.get_state(new) == (list(range(20)), [])


class RacyMemory(MemoryFileSystem):
    """A memory store whose create-only write is fsspec's generic one: it checks whether the
    object exists, then writes it, so two writers can both win (as on any store without a
    conditional write)."""

    protocol = "racymemory"
    store: dict[str, Any] = {}
    pseudo_dirs = [""]

    def pipe_file(self, path: str, value: bytes, mode: str = "overwrite", **kwargs: Any) -> None:
        AbstractFileSystem.pipe_file(self, path, value, mode=mode, **kwargs)


def test_the_generic_create_only_write_really_races() -> None:
    fs = RacyMemory(skip_instance_cache=True)
    checked, wins = threading.Barrier(2), []
    exists = fs.exists

    def both_check_first(path: str) -> bool:
        found = exists(path)
        checked.wait(5)  # both writers have seen "absent" before either writes
        return found

    fs.exists = both_check_first  # type: ignore[method-assign]

    def create(value: bytes) -> None:
        fs.pipe_file("/race/claim", value, mode="create")
        wins.append(value)

    threads = [threading.Thread(target=create, args=(v,)) for v in (b"a", b"b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == [b"a", b"b"]  # both believe they created it: why pylo refuses it


def test_a_store_without_an_atomic_create_is_refused_for_claims() -> None:
    fsspec.register_implementation(RacyMemory.protocol, RacyMemory, clobber=True)
    store = Store(f"{RacyMemory.protocol}://pylo-racy")
    assert atomic_create(store.files.fs) is None
    with pytest.raises(InvalidArgument, match="cannot create an object only if it is absent, atomically"):
        store.claim(new_execution_id())
    assert store.list_executions() == []  # reads still work: only claims (and runs) are refused
