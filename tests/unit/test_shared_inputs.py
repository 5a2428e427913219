"""On local disk consecutive blocks keep their inputs in one shared object, each block still
taken, flushed and read on its own: a large run creates tens of files at planning, not one per
block (each file creation a system call that a process of hundreds of busy threads pays for)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import tasks
from pylo import Config, Pylo
from pylo._core import plan
from pylo._core.plan import plan_execution
from pylo.errors import CorruptSnapshot
from pylo.store import Manifest, Store
from pylo.store._manifest import SHARED_FORMAT, TAKEN_FORMAT


def _objects(store: Store, eid: str) -> list[str]:
    return sorted(os.listdir(store.layout.inputs_dir(eid)))


def test_a_large_local_plan_writes_few_objects_and_every_block_reads_its_own(tmp_path: Path) -> None:
    # 256 workers of 40 inputs each: 1,890 blocks, each taken alone, in 30 objects.
    store = Store(str(tmp_path / "store"))
    manifest = plan_execution(store, range(10_240), tasks.noop, Config(), 256)
    blocks = manifest.blocks
    assert len(blocks) > 1_000
    assert len(_objects(store, manifest.id)) <= len(blocks) // plan.SHARE_BLOCKS + 1
    assert manifest.units() == [(b,) for b in blocks]  # not packs: each block is a unit of its own
    assert all(b.shared is not None and b.shared <= b.block < b.shared + plan.SHARE_BLOCKS for b in blocks)
    reader = store.inputs_reader(manifest.id)
    for b in reversed(blocks):  # out of order: each read finds its own part of its object
        assert reader.read(b) == (None, list(b.positions))


def test_a_shared_object_holds_few_bytes(tmp_path: Path) -> None:
    # A worker reads a whole shared object for one block: big blocks share with fewer others.
    store = Store(str(tmp_path / "store"))
    big = ["x" * 40_000] * 60
    manifest = plan_execution(store, big, tasks.noop, Config(block_size=3), 2)
    sizes = [os.path.getsize(os.path.join(store.layout.inputs_dir(manifest.id), name))
             for name in _objects(store, manifest.id)]
    assert len(sizes) > 1 and max(sizes) <= plan.SHARE_BYTES
    assert Store(str(tmp_path / "store")).read_inputs(manifest.id, manifest.blocks[-1])[1] == big[-3:]


def test_a_run_over_shared_objects_finishes_resumes_and_verifies(tmp_path: Path) -> None:
    pylo = Pylo.local_multithread(str(tmp_path / "store"), number_of_workers=3, block_size=4)
    eid = pylo.start_from_scratch(range(200), tasks.fail_multiples_of_7, progress=False)
    manifest = pylo.store.read_manifest(eid)
    assert len(_objects(pylo.store, eid)) < len(manifest.blocks) / 4
    assert pylo.get_state(eid)[1] == list(range(0, 200, 7))
    again = pylo.start_from_past_execution(eid, tasks.noop, progress=False)
    assert pylo.get_state(again) == (list(range(200)), [])
    assert pylo.verify(eid).ok and pylo.verify(again).ok


def test_verify_and_readers_name_a_damaged_shared_object(tmp_path: Path) -> None:
    pylo = Pylo.local_multithread(str(tmp_path / "store"), number_of_workers=2, block_size=4)
    eid = pylo.start_from_scratch(range(100), tasks.noop, progress=False)
    manifest = pylo.store.read_manifest(eid)
    assert manifest.blocks[1].shared == 0
    path = pylo.store.layout.inputs(eid, 0)
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[:-10])  # torn: the sizes in its header no longer add up
    report = pylo.verify(eid)
    assert not report.ok and [p.path for p in report.problems] == [path]
    with pytest.raises(CorruptSnapshot, match="input pack"):
        pylo.store.read_inputs(eid, manifest.blocks[1])


def test_manifests_with_shared_objects_have_their_own_format_and_are_checked(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "store"))
    manifest = plan_execution(store, range(40), tasks.noop, Config(block_size=4), 2)
    data = json.loads(manifest.encode())
    assert data["format"] == SHARED_FORMAT and data["shared_inputs"] == [[0, len(manifest.blocks)]]
    assert Manifest.decode(manifest.encode(), "m") == manifest
    # A run without shared objects keeps the format before them: an older pylo still reads it.
    alone = json.loads(manifest.encode())
    alone["format"] = TAKEN_FORMAT
    del alone["shared_inputs"]
    plain = Manifest.decode(json.dumps(alone).encode(), "m")
    assert all(b.shared is None for b in plain.blocks) and json.loads(plain.encode())["format"] == TAKEN_FORMAT
    n = len(manifest.blocks)
    for runs in ([[1, n]], [[0, 2], [1, 2]], [[0, 0]], [], "0", [[0, n + 1]], [[0, 1, 2]]):
        bad = {**data, "shared_inputs": runs}
        with pytest.raises(CorruptSnapshot, match="shared_inputs"):
            Manifest.decode(json.dumps(bad).encode(), "m")


def test_a_generators_blocks_share_objects_too(tmp_path: Path) -> None:
    # Of unknown count, blocks are cut as the inputs come: consecutive ones still share objects.
    store = Store(str(tmp_path / "store"))
    manifest = plan_execution(store, (x * 2 for x in range(500)), tasks.noop, Config(block_size=7), 4)
    assert len(_objects(store, manifest.id)) == -(-len(manifest.blocks) // plan.SHARE_BLOCKS) < len(manifest.blocks)
    reader = store.inputs_reader(manifest.id)
    assert [v for b in manifest.blocks for v in reader.read(b)[1]] == [x * 2 for x in range(500)]
