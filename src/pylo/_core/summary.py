"""A summary of an execution: counts overall and per worker, and the most frequent exception
types, read from the store without unpickling anything (manifests, progress segments, worker
outcomes and the text of exception records are JSON)."""

from __future__ import annotations

import collections
import dataclasses
import enum
import shlex
from collections.abc import Iterable
from typing import Any

from .._numbers import count
from ..errors import SnapshotError
from ..store import BlockInfo, BlockState, Manifest, Store
from ..store._takes import holders
from .state import lineage
from .tolerance import Stop, StopKind, Tolerance, ending
from ..store._stop_record import read_stop

__all__ = ["ExceptionKind", "ExecutionStatus", "Summary", "WorkerSummary", "execution_status", "group_records",
           "summarize"]


class ExecutionStatus(str, enum.Enum):
    """What became of an execution, as every view shows it (``ls``, ``status``, ``str(summary)``,
    the HTML badge); decided by ``execution_status`` alone."""

    RUNNING = "running"  # some workers have not ended, and a live client holds the execution
    INTERRUPTED = "interrupted"  # some workers never ended and nobody runs it: resume it
    FINISHED = "finished"  # every input finished
    FAILED_INPUTS = "failed inputs"  # every worker ended, some inputs failed for good
    CANCELLED = "cancelled"  # stopped on request, inputs left unfinished
    GAVE_UP = "gave up"  # a worker used up its failure budget, inputs left unfinished
    HELD_BACK = "held back"  # every worker ended; the inputs a resume's only= left out wait, by choice
    OVER_TOLERANCE = "over tolerance"  # more failed inputs than the execution tolerates: all stopped

    def __str__(self) -> str:
        return self.value


@dataclasses.dataclass(frozen=True)
class WorkerSummary:
    worker: int
    finished: int
    failed: int
    pending: int
    failed_attempts: int
    budget_left: int
    gave_up: bool
    ended: str | None
    started: str | None = None
    cancelled: bool = False
    blocks: int = 0  # blocks it took
    holding: tuple[int, ...] = ()  # blocks it took whose inputs have not all concluded
    left: bool = False  # its Dask worker left the cluster; it handed back what it had not finished


@dataclasses.dataclass(frozen=True)
class ExceptionKind:
    """The failed attempts of one exception type: how many, on how many inputs, and the message
    of the first one (by position)."""

    type: str
    attempts: int
    inputs: int
    message: str


@dataclasses.dataclass(frozen=True)
class Summary:
    """Counts of one execution. ``finished`` includes the inputs inherited from its parents."""

    execution_id: str
    parent: str | None
    created: str
    task: str
    total: int
    finished: int
    failed: int
    pending: int
    inherited: int
    workers: tuple[WorkerSummary, ...]
    complete: bool
    top_exceptions: tuple[ExceptionKind, ...] = ()
    store: str | None = None
    running: bool = False  # a live client holds the execution's claim
    untaken: int = 0  # pending inputs of blocks no worker took
    held_back: int = 0  # inputs a resume with only= left out: unfinished by choice, in no worker's blocks
    stopped: str | None = None  # why it stopped early (a ``StopKind`` value), see ``reason``
    reason: str | None = None  # that in words: "gave up: 101 failed inputs, tolerance 100"
    tolerance: str | None = None  # the failed inputs the execution tolerates, in words

    @property
    def unfinished(self) -> int:
        return self.failed + self.pending

    @property
    def status(self) -> ExecutionStatus:
        return execution_status(self)

    @property
    def gave_up(self) -> bool:
        return any(w.gave_up for w in self.workers)

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["workers"] = [dataclasses.asdict(w) for w in self.workers]
        out["top_exceptions"] = [dataclasses.asdict(k) for k in self.top_exceptions]
        out["unfinished"] = self.unfinished
        out["status"] = self.status.value
        return out

    def resume_line(self) -> str | None:
        """The shell command that reruns what is unfinished, or ``None`` when nothing is."""
        if not self.unfinished:
            return None
        store = shlex.quote(self.store) if self.store else "STORE"
        module, _, name = self.task.partition(":")
        importable = module != "__main__" and all(p.isidentifier() for p in name.split("."))  # no lambda, no local
        return f"pylo resume {store} {self.execution_id} --task {self.task if importable else 'MODULE:FUNCTION'}"

    def __str__(self) -> str:
        lines = [
            f"execution {self.execution_id}: {self.status}" + (f" ({self.reason})" if self.reason else "")
            + (f" (resumed from {self.parent})" if self.parent else ""),
            f"  {count(self.finished)} finished ({count(self.inherited)} inherited), {count(self.failed)} failed, "
            f"{count(self.pending)} pending, of {count(self.total)}",
        ]
        for w in self.workers:
            flag = "  GAVE UP" if w.gave_up else ("  left the cluster" if w.left else "")
            lines.append(
                f"  worker {w.worker}: {count(w.finished)} finished, {count(w.failed)} failed, "
                f"{count(w.pending)} pending, budget left {count(w.budget_left)}{flag}"
            )
        if self.untaken:
            lines.append(f"  {self.untaken} pending in blocks no worker took")
        if self.top_exceptions:
            lines.append(
                "  exceptions: " + ", ".join(f"{count(k.attempts)} x {k.type}" for k in self.top_exceptions)
            )
        return "\n".join(lines)


def execution_status(s: Summary) -> ExecutionStatus:
    """The one decision of what to call an execution. Never "finished" while an input is not:
    a cancelled run and one whose workers gave up are told apart from one with failed inputs."""
    if not s.complete:
        return ExecutionStatus.RUNNING if s.running else ExecutionStatus.INTERRUPTED
    if not s.unfinished:
        return ExecutionStatus.FINISHED
    if s.stopped is not None:  # the recorded reason outranks what the workers' outcomes suggest
        return ExecutionStatus.OVER_TOLERANCE if s.stopped == StopKind.TOLERANCE else ExecutionStatus.INTERRUPTED
    if any(w.cancelled for w in s.workers):
        return ExecutionStatus.CANCELLED
    if s.gave_up:
        return ExecutionStatus.GAVE_UP
    if s.pending > s.held_back:  # every worker ended, yet inputs never ran (a block lost with its Dask
        # workers, or blocks nobody took: every worker left the cluster)
        return ExecutionStatus.INTERRUPTED
    if s.held_back:
        return ExecutionStatus.HELD_BACK
    return ExecutionStatus.FAILED_INPUTS


def group_records(records: Iterable[dict[str, Any]]) -> list[ExceptionKind]:
    """Raw exception records grouped by type, most attempts first (ties by type name)."""
    attempts: collections.Counter[str] = collections.Counter()
    inputs: dict[str, set[int]] = collections.defaultdict(set)
    first: dict[str, tuple[int, int, str]] = {}
    for rec in records:
        kind = str(rec.get("type", "?"))
        pos, attempt = int(rec["pos"]), int(rec.get("attempt", 1))
        attempts[kind] += 1
        inputs[kind].add(pos)
        if kind not in first or (pos, attempt) < first[kind][:2]:
            first[kind] = (pos, attempt, str(rec.get("message", "")))
    kinds = [ExceptionKind(k, n, len(inputs[k]), first[k][2]) for k, n in attempts.items()]
    return sorted(kinds, key=lambda k: (-k.attempts, k.type))


def summarize(store: Store, eid: str, *, top: int = 5) -> Summary:
    """Read the summary of ``eid``; ``top`` exception types are included (0: skip reading the
    exception records). Raises ``ExecutionNotFound`` and the store's ``SnapshotError``s."""
    manifests = lineage(store, eid)
    manifest = manifests[-1]
    states = store.read_states(manifest)
    outcomes = store.read_workers(eid)
    chains = worker_chains(store, manifest)
    workers = _workers(manifest, states, outcomes, chains)
    inherited, finished, failed = _counts(manifests, states)
    complete, running, stop = _ending(store, eid, workers, outcomes)
    return Summary(
        execution_id=eid,
        parent=manifest.parent,
        created=manifest.created,
        task=manifest.task,
        total=inherited + manifest.n_inputs,
        finished=inherited + finished,
        failed=failed,
        pending=manifest.n_inputs - finished - failed,
        inherited=inherited,
        workers=workers,
        complete=complete,
        top_exceptions=tuple(group_records(store.read_records(manifest))[:top]) if top > 0 else (),
        store=store.url,
        running=running,
        untaken=_untaken(manifest, states, chains),
        held_back=sum(b.count for b in manifest.blocks if b.held),
        stopped=None if stop is None else stop.kind.value,
        reason=None if stop is None else stop.message,
        tolerance=Tolerance(manifest.config.max_failures, manifest.config.max_failure_rate).describe(),
    )


def _workers(manifest: Manifest, states: dict[int, BlockState], outcomes: dict[int, dict[str, Any]],
             chains: dict[int, list[BlockInfo]]) -> tuple[WorkerSummary, ...]:
    """Each worker's summary: those planned, those with an outcome and those that took blocks."""
    budget = manifest.config.max_worker_failures
    return tuple(_worker_summary(w, chains.get(w, []), states, outcomes.get(w, {}), budget)
                 for w in sorted(set(range(manifest.workers)) | set(outcomes) | set(chains)))


def _counts(manifests: list[Manifest], states: dict[int, BlockState]) -> tuple[int, int, int]:
    """(inherited, finished, failed) inputs of the last of ``manifests``, a chain from its root.

    Every root position counts once: a resume's inputs are exactly what its chain had left
    unfinished when it was planned, so everything else was inherited finished. Reading the
    parents' segments instead would count twice what a parent went on finishing beside it."""
    inherited = manifests[0].n_inputs - manifests[-1].n_inputs
    finished = sum(len(s.finished) for s in states.values())
    failed = sum(len(s.failed) for s in states.values())
    return inherited, finished, failed


def _untaken(manifest: Manifest, states: dict[int, BlockState], chains: dict[int, list[BlockInfo]]) -> int:
    """The inputs left pending in blocks that no worker took (held blocks are not to be taken)."""
    taken = {b.block for blocks in chains.values() for b in blocks}
    return sum(b.count - len(states[b.block].finished) - len(states[b.block].failed)
               for b in manifest.blocks if not b.held and b.block not in taken)


def _ending(store: Store, eid: str, workers: tuple[WorkerSummary, ...],
            outcomes: dict[int, dict[str, Any]]) -> tuple[bool, bool, Stop | None]:
    """(complete, running, why it stopped early): complete once every worker recorded its
    outcome; else running while something of it is alive in the store, else abandoned."""
    complete = all(w.worker in outcomes for w in workers)
    running = not complete and _alive(store, eid)
    return complete, running, _stopped(store, eid, list(workers), abandoned=not complete and not running)


def worker_chains(store: Store, manifest: Manifest) -> dict[int, list[BlockInfo]]:
    """The blocks each worker took (read from the store's takes), or was dealt at planning (a
    manifest older than blocks taken at run time), in order. Held blocks are nobody's."""
    if not manifest.taken:
        return {w: manifest.worker_blocks(w) for w in range(manifest.workers)}
    units = {u[0].block: u for u in manifest.units()}
    out: dict[int, list[BlockInfo]] = {}
    for unit, take in sorted(holders(store, manifest.id).items()):
        if unit in units:
            out.setdefault(take.worker, []).extend(units[unit])
    return out


def _worker_summary(w: int, blocks: list[BlockInfo], states: dict[int, BlockState], outcome: dict[str, Any],
                    budget: int) -> WorkerSummary:
    finished = sum(len(states[b.block].finished) for b in blocks)
    failed = sum(len(states[b.block].failed) for b in blocks)
    failed_attempts = sum(states[b.block].failed_attempts for b in blocks)
    holding = tuple(b.block for b in blocks
                    if len(states[b.block].finished) + len(states[b.block].failed) < b.count)
    return WorkerSummary(
        worker=w,
        finished=finished,
        failed=failed,
        pending=sum(b.count for b in blocks) - finished - failed,
        failed_attempts=failed_attempts,
        budget_left=max(0, budget - failed_attempts),
        gave_up=bool(outcome.get("gave_up", False)),
        ended=outcome.get("ended"),
        started=outcome.get("started"),
        cancelled=outcome.get("cancelled") is True,
        blocks=len(blocks),
        holding=holding,
        left=outcome.get("left") is True,
    )


def _stopped(store: Store, eid: str, workers: list[WorkerSummary], *, abandoned: bool) -> Stop | None:
    """Why ``eid`` stopped early: the cancel marker is read only when workers stopped as on a
    cancel and no reason was recorded (one GET)."""
    recorded = read_stop(store, eid)
    cancelled = any(w.cancelled for w in workers)
    asked = recorded is not None or not cancelled or store.cancel_requested(eid)
    return ending(recorded, workers_cancelled=cancelled, cancel_requested=asked, abandoned=abandoned)


def _alive(store: Store, eid: str) -> bool:
    """Whether something of ``eid`` is still alive: a lease in the store renewed by one of its
    workers, or by the client holding its claim (liveness never comes from process ids)."""
    try:
        return store.is_running(eid)
    except SnapshotError:  # an unreadable lease proves nothing alive
        return False
