"""What the CLI shows: rows, tables and groups built from JSON objects of the store (summaries,
manifests, raw exception records). Nothing here unpickles anything."""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Iterable, Sequence
from typing import Any

from .._core.summary import ExecutionStatus, Summary, WorkerSummary, summarize
from .._numbers import count
from ..errors import PyloError
from ..store import Store

__all__ = ["ExceptionGroup", "exception_groups", "exceptions", "ls_row", "ls_table", "summary"]


def summary(s: Summary, *, workers: bool = False) -> str:
    """The summary as text; with ``workers``, a table of workers with gave-up flags and times."""
    lines = [f"execution {s.execution_id}: {s.status}" + (f" ({s.reason})" if s.reason else "")
             + (f" (resumed from {s.parent})" if s.parent else "")]
    lines.append(f"  task {s.task}, created {s.created}, ended {_ended(s)}"
                 + (f", tolerates {s.tolerance}" if s.tolerance else ""))
    held = f" ({count(s.held_back)} held back by only=)" if s.held_back else ""
    untaken = f" ({count(s.untaken)} in blocks no worker took)" if s.untaken else ""
    lines.append(
        f"  {count(s.finished)} finished ({count(s.inherited)} inherited), {count(s.failed)} failed, "
        f"{count(s.pending)} pending{held}{untaken}, of {count(s.total)}"
    )
    if workers:
        unknown = "running" if s.running else "never written"  # a worker that wrote no outcome
        lines.append(_table(
            ["worker", "blocks", "running", "finished", "failed", "pending", "budget left", "gave up", "started",
             "ended"],
            [[w.worker, count(w.blocks), _holding(w, s), count(w.finished), count(w.failed), count(w.pending),
              count(w.budget_left), "yes" if w.gave_up else ("left" if w.left else "no"), w.started or unknown,
              w.ended or unknown] for w in s.workers],
            indent="  ",
        ))
    for k in s.top_exceptions:
        lines.append(f"  {count(k.attempts)} x {k.type} on {count(k.inputs)} inputs, first: {k.message}")
    lines.append(_next_step(s))
    return "\n".join(lines)


def _holding(w: WorkerSummary, s: Summary) -> str:
    """The blocks a worker took and has not concluded: running while it runs, else left pending."""
    if not w.holding:
        return "none"
    blocks = ", ".join(str(b) for b in w.holding[:3]) + (" …" if len(w.holding) > 3 else "")
    return blocks if s.running and not w.ended else f"{blocks} (pending)"


def _ended(s: Summary) -> str:
    """When the last worker ended, or why there is no such time."""
    if s.status is ExecutionStatus.RUNNING:
        return "not yet (running)"
    times = [w.ended for w in s.workers if w.ended]
    if not s.complete or not times:
        return "never (interrupted)"
    return max(times)


def _next_step(s: Summary) -> str:
    """What to run next: follow a running execution, rerun an unfinished one."""
    if s.status is ExecutionStatus.RUNNING:  # a resume would be refused while it runs
        store = shlex.quote(s.store) if s.store else "STORE"
        return f"  still running: follow it with pylo attach {store} {s.execution_id}"
    line = s.resume_line()
    return f"  resume: {line}" if line else "  every input finished"


def ls_row(store: Store, eid: str) -> dict[str, Any]:
    """One execution as a JSON row; an unreadable one keeps its id and says why."""
    try:
        s = summarize(store, eid, top=0)
    except PyloError as exc:
        return {"id": eid, "status": "damaged", "error": str(exc)}
    return {
        "id": s.execution_id, "created": s.created, "parent": s.parent, "task": s.task,
        "total": s.total, "finished": s.finished, "failed": s.failed, "pending": s.pending,
        "complete": s.complete, "status": s.status.value, "reason": s.reason,
    }


def ls_table(rows: Sequence[dict[str, Any]]) -> str:
    if not rows:
        return "no executions"
    cols = ["id", "status", "created", "finished", "failed", "pending", "total", "parent", "task"]
    body = [[r.get(c, "") if "error" not in r or c in ("id", "status") else "" for c in cols] for r in rows]
    for row, r in zip(body, rows):
        if "error" in r:
            row[-1] = f"damaged: {r['error']}"
        row[cols.index("parent")] = row[cols.index("parent")] or "-"
    return _table(cols, body)


@dataclasses.dataclass
class ExceptionGroup:
    """The failed attempts of one exception type, from raw records."""

    type: str
    attempts: int = 0
    positions: set[int] = dataclasses.field(default_factory=set)
    first: dict[str, Any] = dataclasses.field(default_factory=dict)

    def add(self, rec: dict[str, Any]) -> None:
        self.attempts += 1
        self.positions.add(int(rec["pos"]))
        if not self.first or _order(rec) < _order(self.first):
            self.first = rec

    def to_json(self, tracebacks: bool) -> dict[str, Any]:
        out = {
            "type": self.type, "attempts": self.attempts, "inputs": len(self.positions),
            "positions": sorted(self.positions), "message": str(self.first.get("message", "")),
            "first_position": int(self.first["pos"]),
        }
        if tracebacks:
            out["traceback"] = str(self.first.get("traceback", ""))
        return out


def _order(rec: dict[str, Any]) -> tuple[int, int]:
    return int(rec["pos"]), int(rec.get("attempt", 1))


def exception_groups(records: Iterable[dict[str, Any]]) -> list[ExceptionGroup]:
    """Raw records grouped by type, most attempts first."""
    groups: dict[str, ExceptionGroup] = {}
    for rec in records:
        kind = str(rec.get("type", "?"))
        groups.setdefault(kind, ExceptionGroup(kind)).add(rec)
    return sorted(groups.values(), key=lambda g: (-g.attempts, g.type))


def exceptions(eid: str, groups: Sequence[ExceptionGroup], *, tracebacks: bool, max_positions: int) -> str:
    if not groups:
        return f"execution {eid}: no exceptions recorded"
    total = sum(g.attempts for g in groups)
    lines = [f"execution {eid}: {count(total)} failed attempts, {len(groups)} exception types"]
    for g in groups:
        shown = sorted(g.positions)[:max_positions]
        more = f" … (+{count(len(g.positions) - len(shown))} more)" if len(g.positions) > len(shown) else ""
        lines += [
            "",
            f"{g.type}: {count(g.attempts)} attempts on {count(len(g.positions))} inputs",
            f"  first (position {g.first['pos']}): {g.first.get('message', '')}",
            f"  positions: {', '.join(map(str, shown))}{more}",
        ]
        if tracebacks:
            lines += ["  " + line for line in str(g.first.get("traceback", "")).rstrip().splitlines()]
    return "\n".join(lines)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], indent: str = "") -> str:
    cells = [list(map(str, header))] + [[count(c) if isinstance(c, int) and not isinstance(c, bool) else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join(indent + "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells)
