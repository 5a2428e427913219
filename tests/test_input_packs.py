"""On an object store a run waits on its request count: input packs, and one request per read.

A moto S3 server over HTTP through s3fs; requests are counted with botocore's own event hooks
on the s3fs client the store uses (every request the store makes, as the server receives it).
"""

from __future__ import annotations

import collections
import itertools
import json
from typing import Any

import pytest

import tasks
from pylo import Pylo
from pylo.errors import CorruptSnapshot, IncompatibleSnapshot
from pylo.store import BlockState, Manifest
from pylo.store._fs import Files
from pylo.store._input_packs import decode_pack, encode_pack
from pylo._core.plan import PACK_BLOCKS, _pack_limit, block_sizes


def _count_requests(files: Files) -> collections.Counter[tuple[str, str]]:
    """(operation, kind of object) of every S3 request ``files`` makes from now on."""
    files.fs.ls(files.root.split("/", 1)[0])  # connect: the client exists after a first request
    counts: collections.Counter[tuple[str, str]] = collections.Counter()

    def seen(event_name: str, params: dict[str, Any], **_: Any) -> None:
        key = str(params.get("Key", ""))  # store/{execution}/inputs/000000, or store/a
        parts = key.split("/")
        kind = parts[2] if len(parts) > 3 else parts[-1]
        counts[(event_name.rsplit(".", 1)[-1], kind)] += 1

    files.fs.s3.meta.events.register("before-parameter-build.s3", seen)
    return counts


@pytest.fixture
def s3_pylo(moto_server: Any) -> Any:
    def make(**options: Any) -> Pylo:
        url = f"s3://{moto_server.new_bucket()}/store"
        options.setdefault("number_of_workers", 2)
        return Pylo.local_multithread(url, storage_options=moto_server.options(), **options)

    return make


def test_a_read_is_one_get_without_a_head(moto_server: Any) -> None:
    # s3fs asks for an object's size before each read unless told not to: two requests per read.
    files = Files(f"s3://{moto_server.new_bucket()}/store", moto_server.options())
    files.put(f"{files.root}/a", b"one")
    files.put(f"{files.root}/b", b"two")
    counts = _count_requests(files)
    assert files.get(f"{files.root}/a") == b"one"
    assert files.get_many([f"{files.root}/a", f"{files.root}/b"]) == {f"{files.root}/a": b"one", f"{files.root}/b": b"two"}
    assert counts == {("GetObject", "a"): 2, ("GetObject", "b"): 1}


def test_a_workers_consecutive_blocks_share_one_inputs_object(s3_pylo: Any) -> None:
    # 2,000 inputs in blocks of 5 over 2 workers: the full blocks go in packs of consecutive
    # blocks (a worker takes a pack whole), the small ones of the run's end stand alone. One PUT
    # at planning and one GET by a worker per pack, instead of one per block.
    pylo = s3_pylo(block_size=5)
    counts = _count_requests(pylo.store.files)
    eid = pylo.start_from_scratch(range(2_000), tasks.noop, progress=False)
    manifest = pylo.store.read_manifest(eid)
    units = manifest.units()
    packs = [u for u in units if len(u) > 1]
    assert len(packs) >= 8 and all(len(u) <= PACK_BLOCKS for u in units)
    assert all(b.pack == u[0].block for u in packs for b in u)
    assert len(units) < len(manifest.blocks) / 2
    assert counts[("PutObject", "inputs")] == len(units)
    assert counts[("GetObject", "inputs")] == len(units)
    # the blocks of a pack write their progress into the pack's directory (at most one segment
    # per block end, fewer when they gather behind a write in flight); each block's state is its own
    assert counts[("PutObject", "progress")] <= len(manifest.blocks)
    files = pylo.store.files
    dirs = {p.rsplit("/", 2)[-2] for p in files.find(pylo.store.layout.progress_dir(eid))}
    assert dirs == {f"{u[0].block:06d}" for u in units}
    assert all(len(state.finished) == b.count for b, state in zip(manifest.blocks, pylo.store.read_states(manifest).values()))
    assert pylo.summary(eid).finished == 2_000
    finished, unfinished = pylo.get_state(eid)
    assert finished == list(range(2_000)) and unfinished == []


def test_a_packed_execution_resumes_and_reads_back(s3_pylo: Any) -> None:
    pylo = s3_pylo(block_size=4)
    eid = pylo.start_from_scratch(range(100), tasks.fail_multiples_of_7, progress=False)
    finished, unfinished = pylo.get_state(eid)
    assert unfinished == list(range(0, 100, 7))
    assert sorted(r.input for r in pylo.get_exceptions(eid)) == unfinished
    again = pylo.start_from_past_execution(eid, tasks.noop, progress=False)
    assert pylo.get_state(again) == (list(range(100)), [])
    assert pylo.verify(again).ok


def test_verify_names_a_damaged_pack(s3_pylo: Any) -> None:
    pylo = s3_pylo(block_size=4)
    eid = pylo.start_from_scratch(range(400), tasks.noop, progress=False)
    manifest = pylo.store.read_manifest(eid)
    assert manifest.blocks[0].pack == 0 and manifest.blocks[1].pack == 0
    path = pylo.store.layout.inputs(eid, manifest.blocks[0].inputs_object)
    files = pylo.store.files
    files.put(path, files.get(path)[:-10])  # torn: the sizes in its header no longer add up
    report = pylo.verify(eid)
    assert not report.ok and [p.path for p in report.problems] == [path]
    with pytest.raises(CorruptSnapshot, match="input pack"):
        pylo.get_state(eid)


def test_a_pack_of_blocks_round_trips_and_refuses_damage() -> None:
    blobs = [b"a" * 3, b"", b"bc"]
    data = encode_pack(8, blobs)
    assert decode_pack(data, "p", 8) == blobs
    for bad in (data[:-1], data + b"x", b"not a pack", data.replace(b'"first":8', b'"first":9'),
                data.replace(b'"format":1', b'"format":7'), data.replace(b"[3,0,2]", b"[[[[3,0,2]]]]")):
        with pytest.raises((CorruptSnapshot, IncompatibleSnapshot)):
            decode_pack(bad, "p", 8)


def _manifest(blocks: list[list[int]], version: int, workers: int = 2) -> bytes:
    return json.dumps({
        "format": version, "id": "20261201T000000000000Z-0000abcd", "parent": None,
        "root": "20261201T000000000000Z-0000abcd", "created": "2026-12-01T00:00:00.000+00:00",
        "task": "m:f", "n_inputs": 2 * len(blocks), "workers": workers, "blocks": blocks,
        "config": {"block_size": 2},
    }).encode()


def test_manifests_with_packs_have_their_own_format_and_are_checked() -> None:
    plain = Manifest.decode(_manifest([[0, 2, 0], [2, 2, 1]], 1), "m")  # written before packs
    assert [b.pack for b in plain.blocks] == [None, None]
    packed = Manifest.decode(_manifest([[0, 2, 0, 0], [2, 2, 0, 0], [4, 2, 1, 2]], 2), "m")
    assert [b.inputs_object for b in packed.blocks] == [0, 0, 2]
    assert Manifest.decode(packed.encode(), "m") == packed and json.loads(packed.encode())["format"] == 2
    refused = [
        _manifest([[0, 2, 0, 0], [2, 2, 1, 0]], 2),  # a pack across two workers
        _manifest([[0, 2, 0, 1], [2, 2, 1, 1]], 2),  # a pack named after a later block
        _manifest([[0, 2, 0], [2, 2, 0, 0]], 2),  # a pack whose first block is not in it
        _manifest([[0, 2, 0, 0], [2, 2, 0, 0]], 1),  # packs in a manifest of the old format
    ]
    for data in refused:
        with pytest.raises(CorruptSnapshot):
            Manifest.decode(data, "m")


@pytest.mark.parametrize(("total", "size", "workers"),
                         [(200, 5, 2), (7, 10, 4), (30, 1, 7), (5, 1, 10), (10**6, 10_000, 2), (10**6, 10_000, 16)])
def test_packs_are_small_enough_that_every_worker_takes_several(total: int, size: int, workers: int) -> None:
    # A pack is taken whole by one worker: at most PACK_BLOCKS blocks, and about four packs per
    # worker or more, so that the end of a run never waits on one worker's big pack.
    sizes = block_sizes(total, size, workers)
    limit = _pack_limit(sizes, size, workers)
    full = sum(1 for s in sizes if s == size)
    assert 1 <= limit <= PACK_BLOCKS
    assert limit == 1 or full // limit >= 4 * workers


def test_a_segment_restricted_to_a_block_keeps_only_its_positions() -> None:
    from pylo.store import Segment

    seg = Segment(block=0, finished=((0, 3), (5, 12)), failed=((3, 2), (12, 1)), retried=((6, 2),))
    assert seg.restricted(range(4, 8)) == Segment(block=0, finished=((5, 8),), failed=(), retried=((6, 2),))
    assert seg.restricted(range(0, 4)) == Segment(block=0, finished=((0, 3),), failed=((3, 2),))
    assert seg.restricted(range(12, 16)) == Segment(block=0, failed=((12, 1),))



def test_the_ends_of_a_packs_blocks_gather_behind_a_write_in_flight(tmp_path: Any) -> None:
    # While the writer is busy, what the blocks of one pack hand over at their ends waits for it
    # and goes out as one segment of the pack: a block's end does not cost a PUT of its own.
    import threading

    from pylo import Config
    from pylo._core.background_writes import BackgroundWrites
    from pylo._core.block import BlockContext, FlushWriter, run_block
    from pylo._core.decide import WorkerTally
    from pylo.store import BlockInfo, Store

    store = Store(f"memory://gather-{tmp_path.name}")
    eid = "20261201T000000000000Z-0000abcd"
    ctx = BlockContext(store, eid, tasks.noop, Config(task_executions_before_flush=1000))
    blocks = [BlockInfo(b, 4 * b, 4, 0, pack=0, pack_span=range(0, 12)) for b in range(3)]
    writes = BackgroundWrites(threads=1, depth=2)
    held, deltas = threading.Event(), []
    writes.submit(lambda: held.wait(30))  # the writer is busy with something else
    out = FlushWriter(ctx, 0, writes, deltas.append)
    tally = WorkerTally(0)
    for info in blocks:
        tally = run_block(ctx, info, tally, start=(BlockState(), list(range(4))), writes=writes, out=out)
    held.set()
    writes.wait()
    writes.close()
    segments = store.files.find(store.layout.progress_dir(eid))
    assert len(segments) == 1 and len(deltas) == 1 and deltas[0].finished == 12
    assert tally.finished == 12 and tally.blocks == 3
    assert [sorted(store.read_block_state(eid, b).finished) for b in blocks] == [
        [0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]


def test_results_of_a_pack_are_read_once_for_all_its_blocks(s3_pylo: Any) -> None:
    pylo = s3_pylo(block_size=5, number_of_workers=1, store_results=True)
    counts = _count_requests(pylo.store.files)
    eid = pylo.start_from_scratch(range(400), tasks.ok_string, progress=False)  # packs of 16 blocks, then the end
    assert [b.pack for b in pylo.store.read_manifest(eid).blocks[:17]] == [0] * 16 + [16]
    written = counts[("PutObject", "results")]
    assert list(pylo.get_results(eid)) == [(x, tasks.ok_string(x)) for x in range(400)]
    assert counts[("GetObject", "results")] == written  # each results object once, not once per block


def test_a_failed_write_does_not_stop_the_later_flushes_of_the_run(tmp_path: Any) -> None:
    # A write that failed raises at the next hand-over; what was handed over stays queued and the
    # flush made while the error goes out must still write it (it was silently dropped).
    from pylo import Config
    from pylo._core.background_writes import BackgroundWrites
    from pylo._core.block import BlockContext, FlushWriter, run_block
    from pylo._core.decide import WorkerTally
    from pylo.store import BlockInfo, Store

    store = Store(f"memory://failed-write-{tmp_path.name}")
    eid = "20261201T000000000000Z-0000abcd"
    ctx = BlockContext(store, eid, tasks.noop, Config(task_executions_before_flush=5))
    info = BlockInfo(0, 0, 20, 0)
    writes = BackgroundWrites(threads=1, depth=2)

    def refused() -> None:  # not a store error (after those the run stops writing, by design)
        raise RuntimeError("a write failed")

    writes.submit(refused)  # an earlier write of this writer that failed
    writes.settle()  # it has failed; its error waits for the next submit
    out = FlushWriter(ctx, 0, writes, lambda d: None)
    with pytest.raises(RuntimeError, match="a write failed"):
        run_block(ctx, info, WorkerTally(0), start=(BlockState(), list(range(20))), writes=writes, out=out)
    writes.wait()
    writes.close()
    assert store.read_block_state(eid, info).finished  # the flush on the way out was written
