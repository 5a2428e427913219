"""Runs one Pylo worker: its blocks in order, its tally in memory, its lease in the store.

    heartbeat (lease + cancel marker) ─► stop()
    block b0 runs ────────────────┐ while it runs, b1's inputs (and, on a rerun, its state) are read
    block b1 runs with them ──────┘ … → workers/{worker}.json, the lease ended

The same code runs on a thread of the client and inside one long Dask task. When Dask reruns that
task (its Dask worker died), ``rerun=True``: the tally is rebuilt from what the store says each
block concluded, the blocks already done are skipped, and only the block that was running
continues, from its last flush.

A block's last flush is written in the background while the next block starts. A rerun (and a
``careful`` run) waits for it instead: should this attempt die too, every block before the one
that was running has then concluded in the store, which is how the client tells the block that
keeps killing its workers (``KilledWorker``) from the innocent one before it.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
import os
from collections.abc import Callable, Sequence
from typing import Any

from .background_writes import BackgroundWrites
from .block import BlockContext, Delta, FlushWriter, finish_worker, new_writer, run_block
from .decide import WorkerTally, gives_up
from ..errors import PyloError, StoreUnreachable
from ..store import BlockInfo, BlockState, Heartbeat
from ..store._leases import worker_lease_name

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
    blocks: Sequence[BlockInfo],
    *,
    stop: Callable[[], bool] = lambda: False,
    report: Callable[[Delta], None] = lambda d: None,
    rerun: bool = False,
    lost: Sequence[int] = (),
    careful: bool = False,
) -> WorkerTally:
    """Run ``worker``'s ``blocks`` in order and record its outcome; return its final tally.

    ``lost``: blocks that killed their Dask workers too often; they are skipped, their inputs stay
    pending. ``careful`` (always on a rerun): each block's flushes reach the store before the next
    block starts. Raises what a block raised (the outcome is recorded first, except when the store
    is unreachable)."""
    pid = os.getpid()
    tally = WorkerTally(worker=worker, lost_blocks=tuple(lost))
    todo = [b for b in blocks if b.block not in tally.lost_blocks]
    if rerun:
        todo, tally = _skip_concluded(ctx, todo, tally)
    ahead = _ReadAhead(ctx, rerun)
    ahead.read(todo[0] if todo else None)  # on an object store, beside the lease's first write
    beat = Heartbeat(ctx.store, ctx.execution, lease_name(worker), interval=ctx.config.lease_interval,
                     poll=cancel_poll(ctx), grace=ctx.config.cancel_grace).start()

    def stopped() -> bool:  # read between inputs: a flag, no I/O
        return stop() or beat.cancelled

    writes = new_writer()
    try:
        tally = _run_blocks(ctx, todo, tally, stopped, report, ahead, beat, writes, careful or rerun)
        writes.wait()  # the last block's last flush
    except StoreUnreachable:
        beat.abandon()  # nothing more can be written: the lease expires on its own
        raise
    except BaseException:  # KeyboardInterrupt, SystemExit, a bug: record the worker, re-raise
        if os.getpid() == pid:
            _finish_quietly(ctx, tally, writes)
            beat.end()
        raise
    finally:
        ahead.close()
        writes.close()
    finish_worker(ctx, tally, cancelled=stopped())
    beat.end()
    return tally


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
    todo: list[BlockInfo],
    tally: WorkerTally,
    stop: Callable[[], bool],
    report: Callable[[Delta], None],
    ahead: _ReadAhead,
    beat: Heartbeat,
    writes: BackgroundWrites,
    careful: bool,
) -> WorkerTally:
    # On local disk a block asks for the cancel marker as it starts (a cheap GET, so a cancel
    # never waits for the next poll); on an object store the heartbeat's poll is enough.
    check = beat.check_cancel if ctx.store.files.local else (lambda: beat.cancelled)
    out: FlushWriter | None = None
    for i, info in enumerate(todo):
        if check():
            break
        start = ahead.take()
        ahead.read(todo[i + 1] if i + 1 < len(todo) else None)
        if out is None or not continues(info, todo[i - 1]):
            out = FlushWriter(ctx, info.inputs_object, writes, report)
        tally = run_block(ctx, info, tally, stop=stop, report=report, start=start, writes=writes, out=out)
        if careful:
            writes.wait()  # the block has concluded in the store before the next one starts
        if tally.gave_up or stop():
            break
    return tally


def _skip_concluded(
    ctx: BlockContext, blocks: list[BlockInfo], tally: WorkerTally
) -> tuple[list[BlockInfo], WorkerTally]:
    """On a rerun: fold the blocks every input of which concluded into the tally, and return the
    blocks left (the first of them is the one that was running)."""
    states = _read_states(ctx, blocks)
    failed_attempts = 0
    for k, info in enumerate(blocks):
        state = states[info.block]
        if len(state.finished) + len(state.failed) < info.count:
            log.info("worker %d of %s rerun: %d blocks already done", tally.worker, ctx.execution, k)
            return blocks[k:], dataclasses.replace(tally, failed_attempts=failed_attempts, blocks=k)
        tally = tally.add(finished=len(state.finished), failed=len(state.failed))
        failed_attempts += state.failed_attempts
    gave_up = gives_up(failed_attempts, ctx.config.max_worker_failures)
    return [], dataclasses.replace(tally, failed_attempts=failed_attempts, blocks=len(blocks), gave_up=gave_up)


def _read_states(ctx: BlockContext, blocks: list[BlockInfo]) -> dict[int, BlockState]:
    with concurrent.futures.ThreadPoolExecutor(8, thread_name_prefix="pylo-read") as pool:
        return dict(zip((b.block for b in blocks),
                        pool.map(lambda b: ctx.store.read_block_state(ctx.execution, b), blocks)))


class _ReadAhead:
    """Reads the next block's inputs (and on a rerun its state) while the current one runs.

    On a first run no block has any segment yet, so its state is not read at all: no LIST per
    block. On local disk the read happens inline: a thread would cost more than it saves."""

    def __init__(self, ctx: BlockContext, rerun: bool) -> None:
        self.ctx, self.rerun = ctx, rerun
        self.pool = None if ctx.store.files.local else concurrent.futures.ThreadPoolExecutor(
            1, thread_name_prefix="pylo-prefetch")
        self.next: concurrent.futures.Future[tuple[BlockState, list[Any]]] | None = None
        self.info: BlockInfo | None = None
        self.inputs = ctx.store.inputs_reader(ctx.execution)  # one load at a time: never shared

    def _load(self, info: BlockInfo) -> tuple[BlockState, list[Any]]:
        store, eid = self.ctx.store, self.ctx.execution
        prior = store.read_block_state(eid, info) if self.rerun else BlockState()
        return prior, self.inputs.read(info)[1]

    def read(self, info: BlockInfo | None) -> None:
        self.info = info
        if info is not None and self.pool is not None:
            self.next = self.pool.submit(self._load, info)

    def take(self) -> tuple[BlockState, list[Any]]:
        assert self.info is not None
        if self.pool is None:
            return self._load(self.info)
        assert self.next is not None
        return self.next.result()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
