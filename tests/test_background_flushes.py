"""Flushes written in the background: how far the task loop may get ahead of the store, and the
worker's outcome written only after its last segments.

A real store on local disk whose flush writes wait at a gate the test holds: while a write is held,
the test reads how many inputs the task loop ran and what the store holds. The task loop runs on a
thread; the test learns that it waits for the store from the writer's own condition variable (its
``wait`` is where the loop parks), so nothing here sleeps to let things happen.
"""

from __future__ import annotations

import concurrent.futures
import math
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pylo import Config
from pylo._core import chain
from pylo._core.background_writes import BackgroundWrites
from pylo._core.block import (
    COALESCE_WINDOWS,
    RECORDS_FLUSH_BYTES,
    BlockContext,
    FlushWriter,
    _record_size,
    new_writer,
    run_block,
)
from pylo._core.decide import WorkerTally
from pylo.errors import CorruptSnapshot
from pylo.store import BlockInfo, BlockState, Segment, Store, dump_inputs, record_failure

EID = "20261201T000000000000Z-0000abcd"
HOLD = 30.0  # seconds a held write waits at most: only a broken test gets there


class GatedStore(Store):
    """A real store whose flush writes (exception records, progress segments) of the blocks in
    ``held`` wait until ``gate`` opens; ``entered`` is set once one of them is waiting there."""

    def __init__(self, url: str, held: frozenset[int] = frozenset({0})) -> None:
        super().__init__(url)
        self.held = held
        self.gate = threading.Event()
        self.entered = threading.Event()

    def _hold(self, block: int) -> None:
        if block in self.held:
            self.entered.set()
            assert self.gate.wait(HOLD), "a flush write was held for good"

    def write_records(self, eid: str, block: int, records: list[dict[str, Any]], seq: int, writer: str) -> None:
        self._hold(block)
        super().write_records(eid, block, records, seq, writer)

    def write_segment(self, eid: str, seg: Segment, seq: int, writer: str) -> None:
        self._hold(seg.block)
        super().write_segment(eid, seg, seq, writer)


class _Signals(threading.Condition):
    """A condition variable that sets ``event`` whenever someone waits on it while ``ready()``.
    ``untimed``: a wait lasts until notified (the waiter must be woken, not find out by polling)."""

    def __init__(self, lock: Any, event: threading.Event, ready: Callable[[], bool], untimed: bool = False) -> None:
        super().__init__(lock)
        self.event, self.ready, self.untimed = event, ready, untimed

    def wait(self, timeout: float | None = None) -> bool:
        if self.ready():
            self.event.set()
        return super().wait(None if self.untimed else timeout)


class SignallingFlushWriter(FlushWriter):
    """A real ``FlushWriter`` (of block 0's objects) that sets ``waiting`` when the task loop
    waits for the store while ``ready()``; ``untimed`` as for ``_Signals``."""

    def __init__(self, ctx: BlockContext, writes: BackgroundWrites, waiting: threading.Event,
                 ready: Callable[[], bool], untimed: bool = False) -> None:
        super().__init__(ctx, 0, writes, lambda d: None)
        self.written = _Signals(self.lock, waiting, ready, untimed)


MESSAGE = "x" * 60_000  # its record nears the size limit (message and traceback cut, pickle kept)


def _record_bytes() -> int:
    """The size of the record of a task raising ``ValueError(MESSAGE)``, as the loop counts it."""
    try:
        raise ValueError(MESSAGE)
    except ValueError as exc:
        return _record_size(record_failure(exc, position=0, worker=0, attempt=1))


@pytest.fixture
def pool() -> Iterator[concurrent.futures.ThreadPoolExecutor]:
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="test-loop") as p:
        yield p


def _run_held(pool: concurrent.futures.ThreadPoolExecutor, store: GatedStore, config: Config,
              task: Callable[[Any], object], count: int, cap: int) -> tuple[int, list[str], WorkerTally]:
    """Run one block of ``count`` inputs on a thread with its first write held; once the loop
    waits for the store (or runs a task past ``cap`` while the write is held), read how many
    inputs ran and what the store holds, then open the gate. Returns those and the block's tally."""
    ran: list[int] = []
    arrived = threading.Event()

    def counted(x: Any) -> object:
        ran.append(x)
        if len(ran) > cap and not store.gate.is_set():
            arrived.set()  # ran past the cap while nothing was written: no need to wait longer
        return task(x)

    ctx = BlockContext(store, EID, counted, config)
    info = BlockInfo(0, 0, count, 0)
    writes = new_writer()
    # A wait before the writer took the first batch, or before it reached the store, says
    # nothing about the cap: only one while the held write is at its gate.
    out = SignallingFlushWriter(ctx, writes, arrived, store.entered.is_set)
    loop = pool.submit(run_block, ctx, info, WorkerTally(0), start=(BlockState(), list(range(count))),
                       writes=writes, out=out)
    try:
        assert arrived.wait(HOLD), "the task loop neither waited for the store nor ran past the cap"
        ran_while_held = len(ran)
        stored_while_held = store.files.find(store.layout.progress_dir(EID)) + store.files.find(
            store.layout.errors_dir(EID))
    finally:
        store.gate.set()
    tally = loop.result(HOLD)
    writes.wait()
    writes.close()
    return ran_while_held, stored_while_held, tally


def test_the_cap_on_unwritten_windows_counts_the_write_in_flight(
        tmp_path: Any, pool: concurrent.futures.ThreadPoolExecutor) -> None:
    # While nothing reaches the store, every input the loop concludes is either in the write in
    # flight or queued behind it: the loop must stop at the cap with both counted, not run one
    # more cap past what the write took (the inputs a crash would make run again).
    store = GatedStore(str(tmp_path / "s"))
    window = 2
    cap = COALESCE_WINDOWS * window
    config = Config(task_executions_before_flush=window, flush_interval=600.0)
    ran, stored, tally = _run_held(pool, store, config, lambda x: None, 3 * cap, cap)
    assert stored == []  # the first write was still held
    assert ran == cap  # not cap + the inputs of the write in flight
    assert tally.finished == 3 * cap
    assert sorted(store.read_block_state(EID, BlockInfo(0, 0, 3 * cap, 0)).finished) == list(range(3 * cap))


def test_exception_records_held_for_the_store_stay_within_two_flushes(
        tmp_path: Any, pool: concurrent.futures.ThreadPoolExecutor) -> None:
    # Large tracebacks flush on size; while the store is slow they must not pile up in memory:
    # the loop waits once a flush's worth of records is queued behind the write in flight.
    store = GatedStore(str(tmp_path / "s"))
    size = _record_bytes()
    per_flush = math.ceil(RECORDS_FLUSH_BYTES / size)  # records gathered before a flush on size
    bound = 2 * per_flush  # the write in flight and the one queued behind it

    def task(x: int) -> None:
        raise ValueError(MESSAGE)

    count = 3 * bound
    config = Config(task_executions_before_flush=100_000, flush_interval=600.0, max_worker_failures=100_000)
    ran, stored, tally = _run_held(pool, store, config, task, count, bound)
    assert stored == []
    assert ran * size <= 2 * (RECORDS_FLUSH_BYTES + size)  # about two flushes' worth, no more
    assert ran == bound
    assert tally.failed == count
    assert len(store.read_block_state(EID, BlockInfo(0, 0, count, 0)).failed) == count


def test_records_waiting_for_the_writer_let_the_loop_go_on_once_it_takes_them(
        tmp_path: Any, pool: concurrent.futures.ThreadPoolExecutor) -> None:
    # The loop waits while a flush's worth of records is queued; once the writer takes them (their
    # write now in flight, nothing queued behind it) the loop must go on at once, not wait for
    # that write to end (it waited for every write of records: as if they were written inline).
    store = GatedStore(str(tmp_path / "s"))
    per_flush = math.ceil(RECORDS_FLUSH_BYTES / _record_bytes())
    busy = threading.Event()
    went_on = threading.Event()

    def task(x: int) -> None:
        if x == per_flush:  # the first input after the first flush
            went_on.set()
        raise ValueError(MESSAGE)

    count = 3 * per_flush
    ctx = BlockContext(store, EID, task, Config(task_executions_before_flush=100_000, flush_interval=600.0))
    writes = new_writer()

    def earlier_write() -> None:  # the writer is busy: the first records wait for it
        assert busy.wait(HOLD)

    writes.submit(earlier_write)
    waits = threading.Event()
    out = SignallingFlushWriter(ctx, writes, waits, lambda: True, untimed=True)
    loop = pool.submit(run_block, ctx, BlockInfo(0, 0, count, 0), WorkerTally(0),
                       start=(BlockState(), list(range(count))), writes=writes, out=out)
    try:
        assert waits.wait(HOLD)  # the loop waits for the writer to take the first flush
        busy.set()
        assert store.entered.wait(HOLD)  # taken: its write is held in the store
        assert went_on.wait(10.0), "the loop waited for the write in flight to end"
    finally:
        busy.set()
        store.gate.set()
    assert loop.result(HOLD).failed == count
    writes.wait()
    writes.close()


class OutcomeStore(Store):
    """A real store that notes which progress segments exist when a worker's outcome is written,
    and whose segment writes can be held (by block and seq) or made to fail."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.gates: dict[tuple[int, int], threading.Event] = {}
        self.entered: dict[tuple[int, int], threading.Event] = {}
        self.fail: set[tuple[int, int]] = set()
        self.segments_at_outcome: list[list[str]] = []

    def hold(self, block: int, seq: int) -> threading.Event:
        self.entered[(block, seq)] = threading.Event()
        self.gates[(block, seq)] = gate = threading.Event()
        return gate

    def write_segment(self, eid: str, seg: Segment, seq: int, writer: str) -> None:
        key = (seg.block, seq)
        if key in self.gates:
            self.entered[key].set()
            assert self.gates[key].wait(HOLD), "a segment write was held for good"
        if key in self.fail:
            raise RuntimeError("a segment write failed")
        super().write_segment(eid, seg, seq, writer)

    def write_worker(self, eid: str, worker: int, outcome: dict[str, Any]) -> None:
        self.segments_at_outcome.append(sorted(self.files.find(self.layout.progress_dir(eid))))
        for gate in self.gates.values():  # written too early: let the held writes end all the same
            gate.set()
        super().write_worker(eid, worker, outcome)


class GateOpeningWrites(BackgroundWrites):
    """The worker's real writer, which opens ``gate`` when the worker waits for its writes (or
    closes it, which waits too) once ``held`` writes were handed to it, the held one among them:
    that write ends only once the worker waits for it, never before the worker decided what it
    does next (write its outcome, start a block)."""

    def __init__(self, gate: threading.Event, held: int) -> None:
        like = new_writer()
        super().__init__(threads=like.threads, depth=like.depth)
        self.gate, self.held, self.submitted = gate, held, 0

    def submit(self, write: Callable[[], None]) -> None:
        self.submitted += 1
        super().submit(write)

    def wait(self) -> None:
        if self.submitted >= self.held:
            self.gate.set()
        super().wait()

    def close(self) -> None:
        self.gate.set()
        super().close()


def _write_blocks(store: Store, sizes: list[int], missing: frozenset[int] = frozenset()) -> list[BlockInfo]:
    blocks, start = [], 0
    for b, n in enumerate(sizes):
        blocks.append(BlockInfo(b, start, n, 0))
        if b not in missing:
            store.write_inputs(EID, b, dump_inputs(None, list(range(start, start + n)), start))
        start += n
    return blocks


def test_the_outcome_is_written_after_the_last_segments(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    store = OutcomeStore(str(tmp_path / "s"))
    blocks = _write_blocks(store, [3, 3])
    gate = store.hold(1, 0)  # the last block's only flush: written while the worker ends
    monkeypatch.setattr(chain, "new_writer", lambda: GateOpeningWrites(gate, held=2))
    ctx = BlockContext(store, EID, lambda x: None, Config(flush_interval=600.0))
    tally = chain.run_worker(ctx, 0, blocks)
    assert tally.finished == 6
    assert [len(s) for s in store.segments_at_outcome] == [2]  # both blocks' segments came first
    assert store.read_workers(EID)[0]["finished"] == 6


def test_a_block_that_raised_records_the_outcome_after_the_write_in_flight(
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # The block's last hand-over raises the error of an earlier write while the next write is
    # still being made: the worker's outcome must wait for that write (it counts what it stores).
    store = OutcomeStore(str(tmp_path / "s"))
    blocks = _write_blocks(store, [5])
    first = store.hold(0, 0)
    store.fail.add((0, 0))  # the first write, of inputs 0-1, fails once let through
    second = store.hold(0, 1)  # the second, of inputs 2-3, is being written as the block ends
    monkeypatch.setattr(chain, "new_writer", lambda: GateOpeningWrites(second, held=2))

    def task(x: int) -> None:
        if x == 2:  # the first write has taken inputs 0-1 and waits at its gate
            assert store.entered[(0, 0)].wait(HOLD)
        if x == 4:  # let it fail; the second write (inputs 2-3) starts and waits at its gate
            first.set()
            assert store.entered[(0, 1)].wait(HOLD)

    ctx = BlockContext(store, EID, task, Config(task_executions_before_flush=2, flush_interval=600.0))
    with pytest.raises(RuntimeError, match="a segment write failed"):
        chain.run_worker(ctx, 0, blocks)
    assert [len(s) for s in store.segments_at_outcome] == [1]  # the second write came first
    assert sorted(store.read_block_state(EID, blocks[0]).finished) == [2, 3]
    assert store.read_workers(EID)[0]["cancelled"] is True


def test_a_worker_that_raised_between_blocks_records_the_outcome_after_the_write_in_flight(
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # The next block's inputs cannot be read while the last flush of the block before is being
    # written: the outcome waits for that write.
    store = OutcomeStore(str(tmp_path / "s"))
    blocks = _write_blocks(store, [3, 3], missing=frozenset({1}))
    gate = store.hold(0, 0)
    monkeypatch.setattr(chain, "new_writer", lambda: GateOpeningWrites(gate, held=1))
    ctx = BlockContext(store, EID, lambda x: None, Config(flush_interval=600.0))
    with pytest.raises(CorruptSnapshot, match="missing input block"):
        chain.run_worker(ctx, 0, blocks)
    assert [len(s) for s in store.segments_at_outcome] == [1]
    assert sorted(store.read_block_state(EID, blocks[0]).finished) == [0, 1, 2]


def test_a_failed_last_write_is_raised_not_dropped(tmp_path: Any) -> None:
    # The last flush is written after the last block returned; closing the writer would wait for
    # it too, but would drop its error: the worker would end as if everything had been stored.
    store = OutcomeStore(str(tmp_path / "s"))
    blocks = _write_blocks(store, [3, 3])
    store.fail.add((1, 0))  # the last block's only flush
    ctx = BlockContext(store, EID, lambda x: None, Config(flush_interval=600.0))
    with pytest.raises(RuntimeError, match="a segment write failed"):
        chain.run_worker(ctx, 0, blocks)
    assert store.read_workers(EID)[0]["cancelled"] is True
    assert sorted(store.read_block_state(EID, blocks[1]).finished) == []


@pytest.mark.parametrize("rerun", [True, False], ids=["rerun", "careful"])
def test_a_rerun_or_careful_run_starts_a_block_once_the_blocks_before_it_are_stored(
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch, rerun: bool) -> None:
    # A rerun follows the death of a process. When a block kills it too often, the backend records
    # as lost the first block the store shows unconcluded: the block before must not still have
    # its last flush in flight (it was recorded lost in place of the block that killed the worker,
    # which then ran and killed again).
    store = OutcomeStore(str(tmp_path / "s"))
    blocks = _write_blocks(store, [3, 3])
    gate = store.hold(0, 0)  # the first block's only flush
    monkeypatch.setattr(chain, "new_writer", lambda: GateOpeningWrites(gate, held=1))
    seen: list[int] = []

    def task(x: int) -> None:
        if x == 3:  # the second block's first input
            seen.append(len(store.read_block_state(EID, blocks[0]).finished))

    ctx = BlockContext(store, EID, task, Config(flush_interval=600.0))
    assert chain.run_worker(ctx, 0, blocks, rerun=rerun, careful=not rerun).finished == 6
    assert seen == [3]
