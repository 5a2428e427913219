"""Runs one Pylo worker: the blocks it takes, its tally in memory, its lease in the store.

    heartbeat (lease + cancel marker) ─► stop()
    take a unit (a block, or a pack's blocks) ─► run its blocks ─► take the next … none left
          the next block of a unit is read while the one before runs
                                                     → workers/{worker}.json, the lease ended

The same code runs on a thread of the client and inside one long Dask task. When Dask reruns that
task (its Dask worker died), ``rerun=True``: the units the worker held are read back from the
store's takes, what they concluded is folded into the tally, and only what was running
continues, from its last flush; then the worker takes more.

A block's last flush is written in the background while the next block starts. A rerun (and a
``careful`` run) waits for it instead: should this attempt die too, every block before the one
that was running has then concluded in the store, which is how the client tells the block that
keeps killing its workers (``KilledWorker``) from the innocent one before it. The blocks that
were running when the process died also run with a ``watch`` (see ``deaths``): each input is
named in the store before it runs, so the input that kills its process is found.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import functools
import logging
import os
from collections.abc import Callable, Sequence
from typing import Any

from .background_writes import BackgroundWrites
from .block import STOP_CHECK_INTERVAL, BlockContext, Delta, FlushWriter, finish_worker, new_writer, run_block
from .decide import WorkerTally, gives_up
from .deaths import InputWatch
from .helper_threads import HelperThreads
from ..errors import PyloError, StoreUnreachable
from ..store import BlockInfo, BlockState, Heartbeat
from ..store._leases import worker_lease_name
from .taking import Fixed, Source, Taken

__all__ = ["cancel_poll", "lease_name", "run_worker"]

log = logging.getLogger(__name__)


def lease_name(worker: int) -> str:
    return worker_lease_name(worker)  # the claim rules read every lease of that name


def cancel_poll(ctx: BlockContext) -> float:
    """Seconds between two looks for the cancel marker: one GET each (see ``pylo.store._cadence``)."""
    return ctx.config.cancel_poll


def run_worker(
    ctx: BlockContext,
    worker: int,
    source: Source | Sequence[BlockInfo],
    *,
    stop: Callable[[], bool] = lambda: False,
    report: Callable[[Delta], None] = lambda d: None,
    rerun: bool = False,
    lost: Sequence[int] = (),
    careful: bool = False,
    hand_back: Callable[[], bool] = lambda: False,
    watch: Callable[[], InputWatch] | None = None,
    interrupt_kills: bool = False,
    left_before: bool = False,
) -> WorkerTally:
    """Run the blocks ``worker`` takes from ``source`` (or a fixed chain of blocks) and record
    its outcome; return its final tally.

    ``rerun``: this worker's task ran before (its Dask worker died): the units it held are read
    first, what they concluded folded into the tally, and the rest continued. ``lost``: blocks
    that killed their Dask workers too often; they are skipped, their inputs stay pending.
    ``careful`` (always on a rerun): each block's flushes reach the store before the next block
    starts. ``hand_back``: asked when the worker stops early; when true (its Dask worker is
    leaving) the units it had not finished are handed back for others to continue. ``watch``:
    on a rerun, makes the watch that runs the blocks that were running in careful mode (see
    ``deaths``), so the input that kills its process is found. ``interrupt_kills``: a
    ``KeyboardInterrupt`` or ``SystemExit`` from the task ends this process and the task is run
    again (Dask): then, once the flushes are written, neither the outcome nor the lease's end is
    recorded, so the rerun continues. Raises what
    a block raised (the outcome is recorded first, except when the store is unreachable)."""
    pid = os.getpid()
    if isinstance(source, Sequence):
        source = Fixed(source)
    tally = WorkerTally(worker=worker, lost_blocks=tuple(lost))
    first: list[tuple[BlockInfo, Taken]] = []
    watched: _Watched = None
    if rerun:
        first, tally = _skip_concluded(ctx, source.mine(), tally)
        if watch is not None and first:
            watched = watch(), frozenset(b.block for b, _ in first)
    beat = Heartbeat(ctx.store, ctx.execution, lease_name(worker), interval=ctx.config.lease_interval,
                     poll=cancel_poll(ctx), grace=ctx.config.cancel_grace).start()

    def stopped() -> bool:  # read between inputs: a flag, no I/O
        return stop() or beat.cancelled

    blocks = _Blocks(source, first, stopped, tally.lost_blocks)
    ahead = _ReadAhead(ctx)
    writes = new_writer()
    left = False
    try:
        if not tally.gave_up:
            tally = _run_blocks(ctx, blocks, tally, stopped, report, ahead, beat, writes, careful or rerun, watched)
        writes.wait()  # the last block's last flush
        left = stopped() and not beat.cancelled and hand_back()
        if left:
            blocks.hand_back()  # after the flushes: whoever continues them sees what concluded
    except StoreUnreachable:
        beat.abandon()  # nothing more can be written: the lease expires on its own
        raise
    except (KeyboardInterrupt, SystemExit):
        if os.getpid() == pid:
            _interrupted(ctx, tally, writes, beat, dies=interrupt_kills)
        raise
    except BaseException:  # a bug: record the worker, re-raise
        if os.getpid() == pid:
            _finish_quietly(ctx, tally, writes)
            beat.end()
        raise
    finally:
        ahead.close()
        writes.close()
    finish_worker(ctx, tally, cancelled=stopped() and not left, left=left or left_before)
    beat.end()
    return tally


# The watch of a rerun and the blocks it watches: those that were running when the process died.
_Watched = tuple[InputWatch, frozenset[int]] | None


def _interrupted(ctx: BlockContext, tally: WorkerTally, writes: BackgroundWrites, beat: Heartbeat, *,
                 dies: bool) -> None:
    """The task raised ``KeyboardInterrupt`` or ``SystemExit``. On threads the worker ends here:
    record it. Where it kills the process and the task runs again (``dies``), an outcome would
    tell the rerun that the worker had ended: only wait for the flushes."""
    if not dies:
        _finish_quietly(ctx, tally, writes)
        beat.end()
        return
    try:
        writes.wait()
    except PyloError:
        log.exception("worker %d of %s: a flush failed as its process ends", tally.worker, ctx.execution)
    beat.abandon()


def _finish_quietly(ctx: BlockContext, tally: WorkerTally, writes: BackgroundWrites) -> None:
    """Record the worker's outcome while another exception is on its way out, after the flushes
    still being written (an outcome never comes before the segments it counts)."""
    try:
        writes.wait()
        finish_worker(ctx, tally, cancelled=True)
    except PyloError:
        log.exception("worker %d of %s: recording its outcome failed", tally.worker, ctx.execution)


def continues(info: BlockInfo, before: BlockInfo | None) -> bool:
    """Whether ``info`` follows ``before`` in the same pack: their flushes then share the pack's
    objects and one writer, so a block's end does not force a write of its own."""
    return before is not None and info.pack is not None and info.pack == before.pack and info.block == before.block + 1


def _run_blocks(
    ctx: BlockContext,
    blocks: _Blocks,
    tally: WorkerTally,
    stop: Callable[[], bool],
    report: Callable[[Delta], None],
    ahead: _ReadAhead,
    beat: Heartbeat,
    writes: BackgroundWrites,
    careful: bool,
    watched: _Watched = None,
) -> WorkerTally:
    # On local disk a block asks for the cancel marker as it starts (a cheap GET, so a cancel
    # never waits for the next poll), or takes a look younger than the task loop's stop checks
    # that another worker of this process made; on an object store the heartbeat's poll is enough.
    check: Callable[[], bool] = (
        functools.partial(beat.check_cancel, STOP_CHECK_INTERVAL) if ctx.store.files.local else (lambda: beat.cancelled))
    out: FlushWriter | None = None
    before: BlockInfo | None = None
    current = blocks.next()
    if current is not None:
        ahead.read(*current)
    while current is not None:
        info, taken = current
        if check():
            break
        start = ahead.take()
        following = blocks.peek()  # the next block of the same unit: its inputs are read now
        if following is not None:
            ahead.read(*following)
        if out is None or not continues(info, before):
            out = FlushWriter(ctx, info.inputs_object, writes, report)
        watch = watched[0] if watched is not None and info.block in watched[1] else None
        tally = run_block(ctx, info, tally, stop=stop, report=report, start=start, writes=writes, out=out,
                          own_prior=not taken.adopted, watch=watch)
        if careful:
            writes.wait()  # the block has concluded in the store before the next one starts
        if tally.gave_up or stop():
            break
        blocks.done(info, taken)
        before = info
        current = blocks.next()
        if current is not None and following is None:
            ahead.read(*current)
    return tally


class _Blocks:
    """The blocks a worker runs, in order: first those of the units it held before (a rerun),
    then those of each unit it takes. The next unit is taken when the current one ends, never
    ahead: a worker stuck on a slow input would hold it from the free ones (the inputs of the
    next block of the same unit are read ahead, see ``_ReadAhead``)."""

    def __init__(self, source: Source, first: list[tuple[BlockInfo, Taken]], stop: Callable[[], bool],
                 lost: Sequence[int]) -> None:
        self.source, self.stop, self.lost = source, stop, frozenset(lost)
        self.queue = collections.deque(first)
        self.unfinished: dict[int, Taken] = {t.unit: t for _, t in first}
        self.exhausted = False

    def _fill(self) -> None:
        while not self.queue and not self.exhausted and not self.stop():
            taken = self.source.take()
            if taken is None:
                self.exhausted = True
                return
            self.unfinished[taken.unit] = taken
            self.queue.extend((b, taken) for b in taken.blocks if b.block not in self.lost)

    def next(self) -> tuple[BlockInfo, Taken] | None:
        self._fill()
        return self.queue.popleft() if self.queue else None

    def peek(self) -> tuple[BlockInfo, Taken] | None:
        return self.queue[0] if self.queue else None

    def done(self, info: BlockInfo, taken: Taken) -> None:
        if info.block == taken.blocks[-1].block:
            self.unfinished.pop(taken.unit, None)

    def hand_back(self) -> None:
        for taken in self.unfinished.values():
            self.source.hand_back(taken)
        self.unfinished.clear()


def _skip_concluded(
    ctx: BlockContext, held: list[Taken], tally: WorkerTally
) -> tuple[list[tuple[BlockInfo, Taken]], WorkerTally]:
    """On a rerun: fold the blocks of the units this worker held every input of which concluded
    into the tally, and return the blocks left, in order (the first is the one that was running)."""
    todo = [(b, t) for t in held for b in t.blocks if b.block not in tally.lost_blocks]
    states = _read_states(ctx, [b for b, _ in todo])
    left: list[tuple[BlockInfo, Taken]] = []
    failed_attempts = done = 0
    for info, taken in todo:
        state = states[info.block]
        failed_attempts += state.failed_attempts
        if len(state.finished) + len(state.failed) < info.count:
            left.append((info, taken))
            continue
        tally = tally.add(finished=len(state.finished), failed=len(state.failed))
        done += 1
    if held:
        log.info("worker %d of %s rerun: %d blocks already done", tally.worker, ctx.execution, done)
    gave_up = gives_up(failed_attempts, ctx.config.max_worker_failures)
    tally = dataclasses.replace(tally, failed_attempts=failed_attempts, blocks=done, gave_up=gave_up)
    return ([] if gave_up else left), tally


def _read_states(ctx: BlockContext, blocks: list[BlockInfo]) -> dict[int, BlockState]:
    with HelperThreads(8, "pylo-read") as pool:
        return dict(zip((b.block for b in blocks),
                        pool.map(lambda b: ctx.store.read_block_state(ctx.execution, b), blocks)))


class _ReadAhead:
    """Reads the next block's inputs (and, when someone ran part of it before, its state) while
    the current one runs.

    A unit taken for the first time has no segment yet, so its state is not read at all: no
    LIST per block. On local disk and in memory the read happens inline: a thread would cost more
    than it saves."""

    def __init__(self, ctx: BlockContext) -> None:
        self.ctx = ctx
        self.pool = HelperThreads(1, "pylo-prefetch") if ctx.store.files.remote else None
        self.next: concurrent.futures.Future[tuple[BlockState, list[Any]]] | None = None
        self.info: BlockInfo | None = None
        self.continues = False
        self.inputs = ctx.store.inputs_reader(ctx.execution)  # one load at a time: never shared

    def _load(self, info: BlockInfo, continues: bool) -> tuple[BlockState, list[Any]]:
        store, eid = self.ctx.store, self.ctx.execution
        prior = store.read_block_state(eid, info) if continues else BlockState()
        return prior, self.inputs.read(info)[1]

    def read(self, info: BlockInfo, taken: Taken) -> None:
        self.info, self.continues = info, taken.continues
        if self.pool is not None:
            self.next = self.pool.submit(self._load, info, taken.continues)

    def take(self) -> tuple[BlockState, list[Any]]:
        assert self.info is not None
        if self.pool is None:
            return self._load(self.info, self.continues)
        assert self.next is not None
        return self.next.result()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
