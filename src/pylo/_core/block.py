"""Runs one block: the task loop and its flushes — the same code on every backend.

    (prior segments, inputs) ──► skip what earlier segments concluded ──► task(input) per position
     read ahead by the worker                     │ every N attempts / T seconds / block end /
     loop (``chain``)                             ▼ give-up / cancel / KeyboardInterrupt
                            errors/{block}/{seq}-{writer}, [results/{block}/{seq}-{writer},]
                            then progress/{block}/{seq}-{writer}

The decisions (retry or not, give up or not) come from ``decide``; this module carries them out.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from .._clock import utc_text
from .clock import Clock, SystemClock
from .deaths import InputWatch
from .config import Config
from .decide import RetryPolicy, WorkerTally, gives_up, next_stride
from .timeout import TimedCalls
from .tolerance import waits_for_failure
from .background_writes import BackgroundWrites
from ..errors import PyloError, StoreUnreachable
from ..store import BlockInfo, BlockState, Segment, Store, record_failure
from ..store._results import keeping_results
from ..store._unique import unique_hex
from ..store._segments import to_ranges

__all__ = ["BlockContext", "Delta", "finish_worker", "run_block"]

log = logging.getLogger(__name__)

# How often a running block asks whether it was cancelled (seconds); flushes ask too.
STOP_CHECK_INTERVAL = 0.05

# Exception records held until a flush: past this many bytes (tracebacks can be large) they are
# flushed early, whatever ``task_executions_before_flush`` says.
RECORDS_FLUSH_BYTES = 1 << 20

# At most this many windows of ``task_executions_before_flush`` attempts are handed over and not
# yet written (the write in flight and the one queued behind it); past it the loop waits for the
# store. This only happens when a window of tasks runs faster than one write (a PUT, or a local
# fsync), i.e. when rerunning the windows after a crash is cheap. Exception records gather the same
# way up to RECORDS_FLUSH_BYTES queued behind the write in flight, so they never pile up in memory.
COALESCE_WINDOWS = 32


@dataclasses.dataclass(frozen=True)
class Delta:
    """What one flush added: sent to the client as progress."""

    execution: str
    worker: int
    block: int
    finished: int
    failed: int
    attempts: int
    seq: int = 0
    writer: str = ""

    @property
    def key(self) -> tuple[int, int, str]:
        """Names the flush: a delta seen twice (a repeated event) counts once."""
        return self.block, self.seq, self.writer


@dataclasses.dataclass(frozen=True)
class BlockContext:
    """Everything a block needs besides its number; pickled once per block to Dask workers."""

    store: Store
    execution: str
    task: Callable[[Any], object]
    config: Config
    clock: Clock = dataclasses.field(default_factory=SystemClock)


def run_block(
    ctx: BlockContext,
    info: BlockInfo,
    tally: WorkerTally,
    *,
    stop: Callable[[], bool] = lambda: False,
    report: Callable[[Delta], None] = lambda d: None,
    start: tuple[BlockState, list[Any]],
    writes: BackgroundWrites | None = None,
    out: FlushWriter | None = None,
    own_prior: bool = True,
    watch: InputWatch | None = None,
) -> WorkerTally:
    """Run the task over one block and return the worker's tally after it. ``start``: what earlier
    attempts of the block concluded and its inputs, which the caller read (ahead, while the block
    before ran). ``own_prior``: those earlier attempts were this worker's (it runs again after its
    Dask worker died), so they count in its tally and budget; a block another worker handed back
    is only skipped. ``writes``: the caller's writer, shared by its blocks (then the caller waits
    for it at its end, and a block's last flush is written while the next block runs). ``out``:
    the caller's ``FlushWriter`` for the block's objects, shared with the block before it in the
    same pack. ``watch``: careful mode (the block was running when its process died): the input
    found running at too many deaths is recorded failed first, and each input is named in the
    store before it runs."""
    if tally.gave_up:
        return tally
    if stop():  # cancelled before it began
        return tally
    return _BlockRun(ctx, info, tally, stop, report, writes, out, watch).run(*start, own_prior=own_prior)


def finish_worker(ctx: BlockContext, tally: WorkerTally, *, cancelled: bool = False, left: bool = False) -> None:
    """Record a worker's final outcome (``workers/{worker}.json``). ``left``: its Dask worker left
    the cluster and it handed back what it had not finished (neither cancelled nor failed)."""
    outcome = dataclasses.asdict(tally)
    outcome["lost_blocks"] = list(tally.lost_blocks)
    outcome["cancelled"] = cancelled
    outcome["left"] = left
    outcome["ended"] = utc_text()
    ctx.store.write_worker(ctx.execution, tally.worker, outcome)


class _BlockRun:
    def __init__(
        self,
        ctx: BlockContext,
        info: BlockInfo,
        tally: WorkerTally,
        stop: Callable[[], bool],
        report: Callable[[Delta], None],
        writes: BackgroundWrites | None = None,
        out: FlushWriter | None = None,
        watch: InputWatch | None = None,
    ) -> None:
        self.ctx, self.info, self.stop, self.watch = ctx, info, stop, watch
        cfg = ctx.config
        self.retry = RetryPolicy.from_config(cfg)
        # With a timeout, attempts run on a helper thread that a hung call can be abandoned on.
        self.timed = None if cfg.timeout is None else TimedCalls(ctx.task, cfg.timeout)
        self.call: Callable[[Any], object] = self.timed or ctx.task
        # With store_results, each successful attempt pickles its value (a value that cannot be
        # kept fails the attempt); the pickles line up with ``self.finished``.
        self.results: list[bytes] = []
        if cfg.store_results:
            self.call = keeping_results(self.call, self.results)
        self.max_failures = cfg.max_worker_failures
        # With a tolerance for the whole run, a failed input is handed to the writer at once, so
        # the client counts it within one write; the worker waits for that write when the run
        # may be near its end (see ``_tolerance_stop``).
        self.tolerant = cfg.max_failures is not None or cfg.max_failure_rate is not None
        self.keep_records = cfg.store_exceptions
        # What changed since the last flush.
        self.finished: list[int] = []
        self.failed: list[tuple[int, int]] = []
        self.retried: list[tuple[int, int]] = []
        self.records: list[dict[str, Any]] = []
        self.record_bytes = 0
        self.since = 0
        self.pid = os.getpid()  # a task that forks: its child must not run pylo's shutdown path
        # Flushes are written in the background while the task goes on (see ``new_writer``).
        self.shared = writes is not None
        self.writes = writes or new_writer()
        self.out = out or FlushWriter(ctx, info.inputs_object, self.writes, report)
        # Running totals of this block, folded into the tally at the end.
        self.tally = tally if tally.started else dataclasses.replace(tally, started=utc_text())
        self.failed_attempts = tally.failed_attempts
        self.gave_up = False
        self.stopped = False  # cancelled while waiting to retry

    def run(self, prior: BlockState, values: list[Any], *, own_prior: bool = True) -> WorkerTally:
        """Run the block given what earlier attempts of it concluded (``prior``) and its inputs."""
        ctx, info = self.ctx, self.info
        if own_prior and (prior.finished or prior.failed):  # a rerun after a worker died: skip what concluded
            self.failed_attempts += prior.failed_attempts
            self.tally = self.tally.add(finished=len(prior.finished), failed=len(prior.failed))
            log.info("block %d of %s rerun: %d inputs already concluded", info.block, ctx.execution,
                     len(prior.finished) + len(prior.failed))
        skip = {*prior.finished, *prior.failed}  # a set: looked up at every input of the loop
        if self.watch is not None:
            self._record_killer(self.watch, skip)
        try:
            self._loop(values, skip)
        except StoreUnreachable:
            raise  # the store is gone: another flush would only wait through its retries again
        except BaseException:  # KeyboardInterrupt, SystemExit, a bug: keep what was done, re-raise
            self._flush_quietly()
            raise
        else:  # end of block, cancel, give-up
            self.flush()
            if not self.shared:
                self.writes.wait()
        finally:
            if not self.shared:
                self.writes.close()
            if self.timed is not None:
                self.timed.close()
        return dataclasses.replace(
            self.tally,
            failed_attempts=self.failed_attempts,
            gave_up=self.gave_up,
            blocks=self.tally.blocks + 1,
        )

    def _record_killer(self, watch: InputWatch, skip: set[int]) -> None:
        """Record the input found running at too many deaths failed, and wait until that is
        written: should the process die again before, the next rerun must not run it again."""
        killer = watch.killer(self.info.block, skip)
        if killer is None:
            return
        pos, died = killer
        self.failed_attempts += 1
        self.failed.append((pos, 1))
        if self.keep_records:
            self.records.append(record_failure(died, position=pos, worker=self.tally.worker, attempt=1))
        skip.add(pos)
        self.flush()
        self.out.wait_below(1, 1)

    def _flush_quietly(self) -> None:
        """Flush while another exception is on its way out: a store error is logged, not raised,
        so it never replaces that exception (a ``KeyboardInterrupt`` is never swallowed)."""
        try:
            self.flush()
            self.writes.wait()
        except PyloError:
            log.exception("block %d of %s: flush failed while stopping", self.info.block, self.ctx.execution)

    def _loop(self, values: list[Any], skip: set[int]) -> None:
        # The hot path: locals only. The clock is read every ``stride`` inputs, the stride adapting
        # so that reads come about every CLOCK_READ_INTERVAL: every input for slow tasks, every
        # few hundred for no-op ones. Everything else happens on the slow paths.
        task, stop, finished = self.call, self.stop, self.finished
        before = None if self.watch is None else self.watch.before  # careful mode: name each input
        monotonic = self.ctx.clock.monotonic
        flush_every = self.ctx.config.task_executions_before_flush
        interval = self.ctx.config.flush_interval
        last_read = monotonic()
        next_flush = last_read + interval
        next_event = min(next_flush, last_read + STOP_CHECK_INTERVAL)
        since = 0  # attempts since the last flush
        stride = countdown = 1
        try:
            for pos, value in enumerate(values, self.info.start):
                if skip and pos in skip:
                    continue
                if before is not None:
                    before(pos)
                try:
                    task(value)
                except Exception as exc:  # the task failed: record it, maybe retry, maybe give up
                    since += self._failed(pos, value, exc)
                    if self.gave_up or self.stopped:
                        return
                    if self.record_bytes >= RECORDS_FLUSH_BYTES or (self.tolerant and self.failed):
                        self.since, since = self.since + since, 0
                        self.flush(coalesce=True)
                        if self.tolerant and self._tolerance_stop():
                            return
                except BaseException as exc:
                    if os.getpid() != self.pid:
                        _exit_forked_child(exc)
                    raise
                else:
                    finished.append(pos)
                    since += 1
                countdown -= 1
                if countdown and since < flush_every:
                    continue
                now = monotonic()
                stride = next_stride(stride, now - last_read)
                last_read, countdown = now, stride
                if since >= flush_every or now >= next_event:
                    if since >= flush_every or now >= next_flush:
                        self.since, since = self.since + since, 0
                        self.flush(coalesce=True)
                        next_flush = now + interval
                    if stop():
                        return
                    next_event = min(next_flush, now + STOP_CHECK_INTERVAL)
        finally:
            self.since += since

    def _failed(self, pos: int, value: Any, exc: Exception) -> int:
        """Record a failed attempt, retry as the policy says; return the attempts it took."""
        attempt = 1
        while True:
            self.failed_attempts += 1
            if self.keep_records:
                record = record_failure(exc, position=pos, worker=self.tally.worker, attempt=attempt)
                self.records.append(record)
                self.record_bytes += _record_size(record)
            if gives_up(self.failed_attempts, self.max_failures):
                self.gave_up = True
                self.failed.append((pos, attempt))
                log.warning("worker %d of %s gave up after %d failed attempts", self.tally.worker,
                            self.ctx.execution, self.failed_attempts)
                return attempt
            delay = self.retry.next_delay(attempt, random.random())  # the process's generator: seeding one costs a system call
            if delay is None:
                self.failed.append((pos, attempt))
                return attempt
            if delay > 0 and not self._pause(delay):  # cancelled while waiting to retry
                self.failed.append((pos, attempt))
                self.stopped = True
                return attempt
            attempt += 1
            try:
                self.call(value)
            except Exception as again:  # the retry failed too
                exc = again
                continue
            self.finished.append(pos)
            self.retried.append((pos, attempt))
            return attempt

    def _tolerance_stop(self) -> bool:
        """Wait until the failure just handed over is written, when ``waits_for_failure`` says
        so (the client counts it against the run's tolerance as it is reported); then say
        whether the run was stopped meanwhile."""
        if waits_for_failure(self.ctx.config, self.tally.failed, self.tally.finished + self.tally.failed):
            self.out.wait_below(1, RECORDS_FLUSH_BYTES)
        return self.stop()

    def _pause(self, seconds: float) -> bool:
        """Wait before a retry, asking ``stop()`` between short slices; ``False`` if stopped."""
        clock = self.ctx.clock
        end = clock.monotonic() + seconds
        while (left := end - clock.monotonic()) > 0:
            if self.stop():
                return False
            clock.sleep(min(left, STOP_CHECK_INTERVAL))
        return True

    def flush(self, *, coalesce: bool = False) -> None:
        """Hand what changed since the last flush to the writer of the block's objects, which
        writes it as soon as it is free (see ``FlushWriter``). ``coalesce``: in the task loop,
        past ``COALESCE_WINDOWS`` windows not yet written the loop waits for the store."""
        # Counted as soon as handed over; a hand-over always happens, even of nothing: it queues
        # a write for what an earlier one left queued when a write had failed.
        self.tally = self.tally.add(finished=len(self.finished), failed=len(self.failed), attempts=self.since)
        unwritten, queued_bytes = self.out.hand(self)
        limit = COALESCE_WINDOWS * self.ctx.config.task_executions_before_flush
        if coalesce and (unwritten >= limit or queued_bytes >= RECORDS_FLUSH_BYTES):
            self.out.wait_below(limit, RECORDS_FLUSH_BYTES)  # the store is slower than the task


class FlushWriter:
    """Writes the flushes of the blocks whose objects share one directory (a block's own, or a
    pack's, for the consecutive blocks of it that a worker runs), under one writer id: errors
    first, so a failure always has its records, then the results, then the progress segment,
    then the progress report.

    On an object store a PUT takes longer than a window of fast tasks: while one is being
    written, what later flushes hand over gathers into the next write, queued behind it, which
    takes everything handed over when it starts — even if the task is stuck by then, and across
    the end of a block of the same pack. The task loop writes the lists it gathers; the writer
    thread takes them from here, under ``lock``."""

    def __init__(self, ctx: BlockContext, directory: int, writes: BackgroundWrites,
                 report: Callable[[Delta], None]) -> None:
        self.ctx, self.directory, self.writes, self.report = ctx, directory, writes, report
        self.writer = unique_hex(12)
        self.seq = 0  # only the writes change it, one at a time
        self.lock = threading.Lock()
        self.written = threading.Condition(self.lock)  # a write took what was queued, or ended
        self.queued = _Handover()  # handed over, not yet being written
        self.in_flight = 0  # inputs of the write being made

    def hand(self, run: _BlockRun) -> tuple[int, int]:
        """Take what ``run`` gathered since its last flush; return how many concluded inputs are
        not written yet and how many bytes of exception records wait behind the write in flight.
        Raises the error of an earlier write (what was handed over stays queued)."""
        with self.lock:
            self.queued.take(run)
            queued, unwritten = self.queued, self.queued.count + self.in_flight
            queued_bytes = queued.record_bytes
            schedule = not queued.scheduled and not queued.empty
            queued.scheduled = queued.scheduled or schedule
        if schedule:
            try:
                self.writes.submit(self._write)
            except BaseException:
                with self.lock:  # no write was queued for it: the next hand-over queues one
                    queued.scheduled = False
                raise
        return unwritten, queued_bytes

    def _write(self) -> None:
        """Write what was handed over since the last write (on the writer's thread)."""
        ctx, eid, block = self.ctx, self.ctx.execution, self.directory
        with self.lock:
            batch, self.queued = self.queued, _Handover()
            self.in_flight = batch.count
            self.written.notify_all()  # nothing queued now: a loop waiting on its records goes on
        try:
            if batch.records:
                ctx.store.write_records(eid, block, batch.records, self.seq, self.writer)
                self.seq += 1
            if batch.finished or batch.failed:
                seq = self.seq
                self.seq += 1
                if batch.results:  # before the segment: a finished input always has its result
                    ctx.store.write_results(eid, block, batch.finished, batch.results, seq, self.writer)
                seg = Segment(block=block, finished=tuple(to_ranges(batch.finished)), failed=tuple(batch.failed),
                              retried=tuple(batch.retried), worker=batch.worker, start=batch.opened, end=time.time())
                ctx.store.write_segment(eid, seg, seq, self.writer)
                self.report(Delta(eid, batch.worker, block, len(batch.finished), len(batch.failed),
                                  batch.since, seq, self.writer))  # progress counts only what is stored
        finally:
            with self.lock:
                self.in_flight = 0
                self.written.notify_all()

    def wait_below(self, limit: int, record_bytes: int) -> None:
        """Wait until fewer than ``limit`` concluded inputs are unwritten and fewer than
        ``record_bytes`` of exception records are queued (or nothing is being written any more:
        a failed write is raised by the next hand-over)."""
        with self.written:
            while ((self.queued.count + self.in_flight >= limit or self.queued.record_bytes >= record_bytes)
                   and (self.in_flight or self.queued.scheduled)):
                self.written.wait(1.0)


class _Handover:
    """What flushes handed to a ``FlushWriter`` and it has not started writing (under its lock)."""

    def __init__(self) -> None:
        self.worker = 0
        self.opened = time.time()  # when its attempts began, or soon before: the last hand-over
        self.scheduled = False  # a write that will take this is queued
        self.finished: list[int] = []
        self.failed: list[tuple[int, int]] = []
        self.retried: list[tuple[int, int]] = []
        self.records: list[dict[str, Any]] = []
        self.record_bytes = 0
        self.results: list[bytes] = []
        self.since = 0

    @property
    def count(self) -> int:
        return len(self.finished) + len(self.failed)

    @property
    def empty(self) -> bool:
        return not (self.finished or self.failed or self.records)

    def take(self, run: _BlockRun) -> None:
        """Move what ``run`` gathered since its last flush here (the run's lists are emptied in
        place: its task loop and the results wrapper hold them)."""
        self.worker = run.tally.worker
        self.finished.extend(run.finished)
        self.failed.extend(run.failed)
        self.retried.extend(run.retried)
        self.records.extend(run.records)
        self.record_bytes += run.record_bytes
        self.results.extend(run.results)
        self.since += run.since
        run.since = run.record_bytes = 0
        for gathered in (run.finished, run.failed, run.retried, run.records, run.results):
            gathered.clear()


def new_writer() -> BackgroundWrites:
    """The writer of a worker's flushes, in the background: one write in flight and one queued
    behind it (which takes whatever was handed over when it starts). On an object store a write
    is a PUT (~10 ms); on local disk an fsync (~0.4 ms): both longer than a window of fast tasks,
    and written inline they halved a run of no-op tasks."""
    return BackgroundWrites(threads=1, depth=2)


def _record_size(record: dict[str, Any]) -> int:
    """About how many bytes a record takes in the store (its strings dominate)."""
    return sum(len(v) if isinstance(v, (str, bytes)) else 8 for v in record.values())


def _exit_forked_child(exc: BaseException) -> None:
    """A task forked and its child is leaving (``sys.exit`` or an error): end the child now, as
    ``multiprocessing`` does, so none of its parent's flushes, outcomes or claims run here."""
    code = exc.code if isinstance(exc, SystemExit) else 1
    os._exit(code if isinstance(code, int) else 1)
