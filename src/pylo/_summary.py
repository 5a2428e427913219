"""A summary of an execution: counts overall and per worker, read from the store without
unpickling anything (manifests, progress segments and worker outcomes are JSON)."""

from __future__ import annotations

import dataclasses
from typing import Any

from .store import Store
from ._state import chain

__all__ = ["Summary", "WorkerSummary", "summarize"]


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

    @property
    def unfinished(self) -> int:
        return self.failed + self.pending

    @property
    def gave_up(self) -> bool:
        return any(w.gave_up for w in self.workers)

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["workers"] = [dataclasses.asdict(w) for w in self.workers]
        return out

    def __str__(self) -> str:
        lines = [
            f"execution {self.execution_id}" + (f" (resumed from {self.parent})" if self.parent else ""),
            f"  {self.finished} finished ({self.inherited} inherited), {self.failed} failed, "
            f"{self.pending} pending, of {self.total}",
        ]
        for w in self.workers:
            flag = "  GAVE UP" if w.gave_up else ""
            lines.append(
                f"  worker {w.worker}: {w.finished} finished, {w.failed} failed, {w.pending} pending, "
                f"budget left {w.budget_left}{flag}"
            )
        return "\n".join(lines)


def summarize(store: Store, eid: str) -> Summary:
    manifests = chain(store, eid)
    manifest = manifests[-1]
    inherited = 0
    for ancestor in manifests[:-1]:
        inherited += sum(len(s.finished) for s in store.read_states(ancestor).values())
    states = store.read_states(manifest)
    outcomes = store.read_workers(eid)
    budget = manifest.config.max_worker_failures
    workers = []
    for w in range(manifest.workers):
        blocks = manifest.worker_blocks(w)
        finished = sum(len(states[b.block].finished) for b in blocks)
        failed = sum(len(states[b.block].failed) for b in blocks)
        failed_attempts = sum(states[b.block].failed_attempts for b in blocks)
        outcome = outcomes.get(w, {})
        workers.append(
            WorkerSummary(
                worker=w,
                finished=finished,
                failed=failed,
                pending=sum(b.count for b in blocks) - finished - failed,
                failed_attempts=failed_attempts,
                budget_left=max(0, budget - failed_attempts),
                gave_up=bool(outcome.get("gave_up", False)),
                ended=outcome.get("ended"),
            )
        )
    finished = sum(w.finished for w in workers)
    failed = sum(w.failed for w in workers)
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
        workers=tuple(workers),
        complete=len(outcomes) >= manifest.workers,
    )
