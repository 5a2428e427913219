"""What the web view shows, as JSON-ready dicts: the same data feeds the pages and ``/api/…``.

Everything comes from the store's JSON objects (manifests, progress segments, worker outcomes,
the text fields of exception records, engine job records); nothing is unpickled. An execution
whose objects cannot be read becomes a row that says why (``"damaged"``), and the others are
still shown.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
import shlex
from collections.abc import Mapping
from typing import Any

from .. import cli_text
from ..activity import read_activity
from ..charts import series, throughput_svg, timeline_svg
from ..._core.state import lineage
from ..._core.summary import ExecutionStatus, Summary, execution_status, summarize
from ..._clock import utc_text
from ...errors import ExecutionNotFound, InvalidArgument, PyloError, StoreUnreachable
from ...store import order_by_parents, validate_execution_id
from ._limits import ViewStore

__all__ = [
    "DAMAGE",
    "copy_lines",
    "damage_reason",
    "execution_detail",
    "execution_rows",
    "exception_groups",
    "job_rows",
    "newest_first",
    "pictures",
    "status_token",
]

# What reading a hostile or damaged object can raise; caught per execution, per job record.
DAMAGE = (PyloError, ValueError, TypeError, KeyError, IndexError, RecursionError, OSError)

POSITIONS_SHOWN = 1000  # per exception type in the JSON API; the count is always exact
_JOB_ID = re.compile(r"\A[0-9a-f]{32}\Z")


def status_token(summary: Summary) -> str:
    """The execution's status as the pages and the JSON API spell it (``failed_inputs``: a CSS
    class and a filter word). The decision itself is the summary's, the same for ``pylo ls``,
    ``pylo status`` and the notebook view; liveness comes from the leases the running workers
    and the client holding the claim renew in the store."""
    return execution_status(summary).name.lower()


def newest_first(parents: Mapping[str, str | None]) -> list[str]:
    """Execution ids newest first, where a resume always comes before the execution it resumed,
    even when its id sorts lower (ids carry the clock of the machine that made them)."""
    return order_by_parents(parents, newest_first=True)


# -- executions --------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Catalog:
    """The executions of a store: who resumed whom, and the ids whose manifest is damaged."""

    parents: dict[str, str | None]
    damaged: dict[str, str]

    def children(self, eid: str) -> list[str]:
        return sorted((c for c, p in self.parents.items() if p == eid), reverse=True)


def read_catalog(store: ViewStore) -> Catalog:
    parents: dict[str, str | None] = {}
    damaged: dict[str, str] = {}
    for name in store.files.listdir(store.layout.root):
        try:
            validate_execution_id(name)
        except InvalidArgument:
            continue  # jobs/, stray files: not executions
        try:
            parents[name] = store.read_manifest(name).parent
        except ExecutionNotFound:
            continue  # a planning that failed before its manifest: invisible to every reader
        except StoreUnreachable:
            raise  # the whole store is away: not a damaged execution
        except DAMAGE as exc:
            damaged[name] = damage_reason(exc)
            parents[name] = None
    return Catalog(parents, damaged)


def execution_rows(store: ViewStore, limit: int | None = None) -> list[dict[str, Any]]:
    """One row per execution, newest first; a damaged one keeps its id and says why."""
    catalog = read_catalog(store)
    rows = []
    for eid in newest_first(catalog.parents)[:limit]:
        row: dict[str, Any] = {"id": eid, "parent": catalog.parents[eid], "children": catalog.children(eid)}
        if eid in catalog.damaged:
            rows.append({**row, "damaged": catalog.damaged[eid]})
            continue
        try:
            row.update(_counts(store, eid)[0])
        except StoreUnreachable:
            raise
        except DAMAGE as exc:
            row["damaged"] = damage_reason(exc)
        rows.append(row)
    return rows


def _counts(store: ViewStore, eid: str) -> tuple[dict[str, Any], Summary]:
    summary = summarize(store, eid, top=0)
    status = status_token(summary)
    ended = max((w.ended for w in summary.workers if w.ended), default=None) if summary.complete else None
    return {
        "status": status, "task": summary.task, "created": summary.created, "ended": ended,
        "total": summary.total, "finished": summary.finished, "failed": summary.failed,
        "pending": summary.pending, "inherited": summary.inherited, "unfinished": summary.unfinished,
        "complete": summary.complete, "reason": summary.reason, "tolerance": summary.tolerance,
    }, summary


def execution_detail(store: ViewStore, eid: str) -> dict[str, Any]:
    """Everything the execution page shows except the exception groups. Raises
    ``ExecutionNotFound`` and whatever a damaged object raises (``DAMAGE``)."""
    manifest, raw = store.read_manifest_and_extras(eid)
    counts, summary = _counts(store, eid)
    catalog = read_catalog(store)
    return {
        "id": eid,
        **counts,
        "parent": manifest.parent,
        "chain": [m.id for m in lineage(store, eid)],
        "children": catalog.children(eid),
        "workers": [dataclasses.asdict(w) for w in summary.workers],
        "max_worker_failures": manifest.config.max_worker_failures,
        "n_inputs": manifest.n_inputs,
        "dashboard": _dashboard(raw),
        "store": store.url,
    }


def pictures(store: ViewStore, eid: str) -> dict[str, Any]:
    """The execution's pictures as SVG (throughput and ETA, workers over time), what they are
    drawn from as JSON-ready data, and whether it still runs (its pictures then still change).
    Raises ``ExecutionNotFound`` and whatever a damaged object raises (``DAMAGE``)."""
    running = store.is_running(eid)
    activity = read_activity(store, eid, running=running)
    return {
        "id": eid,
        "running": running,
        "throughput_svg": throughput_svg(activity),
        "timeline_svg": timeline_svg(activity),
        "series": [dataclasses.asdict(p) for p in series(activity)],
        "flushes": [dataclasses.asdict(s) for s in activity.spans[-POSITIONS_SHOWN:]],
        "gave_up": [{"worker": w, "at": t} for w, t in activity.gave_up],
        "undated_flushes": activity.undated,
    }


def _dashboard(raw: dict[str, Any]) -> str | None:
    link = raw.get("dashboard")
    if isinstance(link, str) and re.match(r"\Ahttps?://[^\s\"'<>]+\Z", link):
        return link
    return None


def exception_groups(store: ViewStore, eid: str) -> list[dict[str, Any]]:
    """The failed attempts of ``eid`` (not of its parents), grouped by type, most attempts first,
    each with its first message and traceback (by position). Text fields only."""
    records = store.read_records(store.read_manifest(eid))
    out = []
    for group in cli_text.exception_groups(records):
        item = group.to_json(tracebacks=True)
        item["type"] = _text(item["type"])
        item["message"] = _text(item["message"])
        item["traceback"] = _text(item["traceback"])
        item["positions"] = item["positions"][:POSITIONS_SHOWN]
        out.append(item)
    return out


def _text(value: Any, limit: int = 20_000) -> str:
    text = value if isinstance(value, str) else json.dumps(value)[:limit]
    return text if len(text) <= limit else text[:limit] + " …"


def copy_lines(detail: dict[str, Any], groups: list[dict[str, Any]]) -> dict[str, Any]:
    """Commands to paste: resume what is unfinished, read it, and (when this pylo can) attach
    to a running execution or rerun only one failure type. Storage options (credentials) are
    never printed: add your own ``-o`` options."""
    store, eid = shlex.quote(detail["store"]), detail["id"]
    task = detail.get("task") or "MODULE:FUNCTION"
    module, _, name = task.partition(":")
    if module == "__main__" or not all(p.isidentifier() for p in name.split(".")):
        task = "MODULE:FUNCTION"  # a lambda or a local function: the user names an importable one
    lines: dict[str, Any] = {"status": f"pylo status {store} {eid}"}
    running = detail.get("status") == ExecutionStatus.RUNNING.name.lower()
    if detail.get("unfinished") and not running:  # a resume of a running execution is refused
        lines["resume"] = f"pylo resume {store} {eid} --task {task}"
    from ...execution import Pylo

    if running and hasattr(Pylo, "attach"):
        lines["attach"] = f"run = Pylo.dask('SCHEDULER_ADDRESS', {detail['store']!r}).attach({eid!r})"
    if "only" in inspect.signature(Pylo.start_from_past_execution).parameters:
        lines["only"] = {
            g["type"]: f"pylo.start_from_past_execution({eid!r}, task, only=lambda r: r.type == {g['type']!r})"
            for g in groups
        }
    return lines


# -- engine jobs -------------------------------------------------------------------------------

def job_rows(store: ViewStore) -> list[dict[str, Any]]:
    """The engine's job records under ``{store}/jobs/``, newest first; a damaged one says why.
    A record's ``spec`` (pickled arguments) is never loaded."""
    from ...engine import JobRecord

    prefix = f"{store.files.root}/jobs"
    rows: list[dict[str, Any]] = []
    for name in store.files.listdir(prefix):
        stem = name[:-5] if name.endswith(".json") else ""
        if not _JOB_ID.match(stem):
            continue
        path = f"{prefix}/{name}"
        try:
            record, _spec = JobRecord.from_json(store.files.get(path), path)
        except StoreUnreachable:
            raise
        except DAMAGE as exc:
            rows.append({"id": stem, "damaged": damage_reason(exc), "created": None})
            continue
        rows.append({
            "id": record.id, "name": _text(record.name), "kind": _text(record.kind),
            "status": str(record.status), "condition": record.condition and _text(record.condition),
            "attempts": record.attempts, "error": record.error and _text(record.error),
            "func": record.func and _text(record.func),
            "created": _when(record.created), "submitted": _when(record.submitted),
            "started": _when(record.started), "stopped": _when(record.stopped),
        })
    return sorted(rows, key=lambda r: (r["created"] or "", r["id"]), reverse=True)


def _when(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    try:
        return utc_text(float(epoch), timespec="seconds")
    except (OverflowError, OSError, ValueError, TypeError):
        return f"invalid time {epoch!r}"


def damage_reason(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "an object is nested too deeply to read"
    return f"{type(exc).__name__}: {exc}" if not isinstance(exc, PyloError) else str(exc)
