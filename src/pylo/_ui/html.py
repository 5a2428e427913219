"""HTML views of an execution for notebooks: ``Summary._repr_html_`` and ``Run._repr_html_``,
installed on those classes by ``install_reprs`` (``pylo`` calls it on import): the core sits below
the UI and never imports its HTML.

Pure functions from values to one self-contained HTML fragment with inline styles (notebook
front ends drop ``<style>`` blocks and scripts). Every string from the store is escaped.
"""

from __future__ import annotations

import html
import shlex
from typing import TYPE_CHECKING

from .._core.run import Run
from .._core.status import Status
from .._core.summary import Summary
from .._numbers import count

if TYPE_CHECKING:
    from .._core.run import Progress
    from .._core.summary import ExceptionKind, WorkerSummary

__all__ = ["install_reprs", "pictures_html", "progress_html", "run_html", "summary_html"]

GREEN, RED, GREY = "#2e9e4f", "#d64545", "#c9ccd1"
_BOX = "font-family:system-ui,sans-serif;font-size:13px;line-height:1.4;max-width:760px"
_CELL = "padding:2px 10px;text-align:right;border-bottom:1px solid #e5e7eb"
_HEAD = "padding:2px 10px;text-align:right;border-bottom:1px solid #9ca3af;font-weight:600"
_MESSAGE_CHARS = 120


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def bar(finished: int, failed: int, total: int, *, height: int = 14) -> str:
    """A stacked bar: finished (green), failed (red), pending (grey)."""
    parts = []
    for part, color, label in ((finished, GREEN, "finished"), (failed, RED, "failed")):
        if total and part:
            pct = 100.0 * part / total
            parts.append(
                f'<div title="{count(part)} {label}" data-part="{label}" '
                f'style="width:{pct:.3f}%;background:{color};height:100%"></div>'
            )
    return (
        f'<div class="pylo-bar" style="display:flex;width:100%;height:{height}px;background:{GREY};'
        f'border-radius:3px;overflow:hidden;margin:4px 0">{"".join(parts)}</div>'
    )


def _counts(finished: int, failed: int, total: int, inherited: int = 0) -> str:
    pending = total - finished - failed
    extra = f" ({count(inherited)} inherited)" if inherited else ""
    return (
        f'<div><b style="color:{GREEN}">{count(finished)} finished</b>{_e(extra)} · '
        f'<b style="color:{RED}">{count(failed)} failed</b> · '
        f"<b>{count(pending)} pending</b> · of {count(total)}</div>"
    )


def _budget(w: WorkerSummary) -> str:
    used = w.failed_attempts + w.budget_left
    pct = 100.0 * w.budget_left / used if used else 100.0
    color = RED if w.gave_up else GREEN
    return (
        f'<div style="display:inline-block;width:60px;height:8px;background:{GREY};margin-right:6px">'
        f'<div style="width:{pct:.1f}%;height:100%;background:{color}"></div></div>{count(w.budget_left)}'
    )


def _workers(workers: tuple[WorkerSummary, ...]) -> str:
    head = "".join(
        f'<th style="{_HEAD}">{h}</th>'
        for h in ("worker", "finished", "failed", "pending", "failed attempts", "budget left", "")
    )
    rows = []
    for w in workers:
        flag = f'<b style="color:{RED}">gave up</b>' if w.gave_up else ("done" if w.ended else "")
        cells = (w.worker, f"{count(w.finished)}", f"{count(w.failed)}", f"{count(w.pending)}", f"{count(w.failed_attempts)}")
        rows.append(
            "<tr>" + "".join(f'<td style="{_CELL}">{_e(c)}</td>' for c in cells)
            + f'<td style="{_CELL}">{_budget(w)}</td><td style="{_CELL}">{flag}</td></tr>'
        )
    return f'<table class="pylo-workers" style="border-collapse:collapse;margin:6px 0"><tr>{head}</tr>{"".join(rows)}</table>'


def _exceptions(kinds: tuple[ExceptionKind, ...]) -> str:
    if not kinds:
        return ""
    rows = []
    for k in kinds:
        message = k.message if len(k.message) <= _MESSAGE_CHARS else k.message[: _MESSAGE_CHARS - 1] + "…"
        rows.append(
            f'<tr><td style="{_CELL};text-align:left"><code>{_e(k.type)}</code></td>'
            f'<td style="{_CELL}">{count(k.attempts)}</td><td style="{_CELL}">{count(k.inputs)}</td>'
            f'<td style="{_CELL};text-align:left;color:#4b5563">{_e(message)}</td></tr>'
        )
    head = "".join(
        f'<th style="{_HEAD}{align}">{h}</th>'
        for h, align in (("exception", ";text-align:left"), ("attempts", ""), ("inputs", ""), ("first message", ";text-align:left"))
    )
    return (
        '<div style="margin-top:6px;font-weight:600">Top exception types</div>'
        f'<table class="pylo-exceptions" style="border-collapse:collapse;margin:4px 0"><tr>{head}</tr>{"".join(rows)}</table>'
    )


def _resume(summary: Summary, status: str | None) -> str:
    if status in ("pending", "running"):
        store = shlex.quote(summary.store) if summary.store else "STORE"
        return (
            '<div class="pylo-running" style="margin-top:6px;color:#6b7280">still running — follow it from a shell '
            f"with <code>{_e(f'pylo status {store} {summary.execution_id}')}</code></div>"
        )
    line = summary.resume_line()
    if line is None:
        return f'<div style="color:{GREEN};margin-top:6px">Nothing left to do: every input finished.</div>'
    python = f"pylo.start_from_past_execution({summary.execution_id!r}, task)"
    return (
        f'<div class="pylo-resume" style="margin-top:6px">{count(summary.unfinished)} unfinished — resume with '
        f"<code>{_e(python)}</code><br>or from a shell: <code>{_e(line)}</code></div>"
    )


def _header(execution_id: str, status: str | None, parent: str | None) -> str:
    badge = f' <span style="background:#eef;border-radius:3px;padding:0 5px">{_e(status)}</span>' if status else ""
    origin = f' <span style="color:#6b7280">resumed from <code>{_e(parent)}</code></span>' if parent else ""
    return f"<div><b>pylo execution</b> <code>{_e(execution_id)}</code>{badge}{origin}</div>"


def summary_html(summary: Summary, *, status: str | None = None) -> str:
    """The whole view of a summary: header, counts, bar, workers, top exceptions, resume line."""
    s = summary
    status = status or s.status.value
    meta = f'<div style="color:#6b7280">task <code>{_e(s.task)}</code> · created {_e(s.created)}</div>'
    if s.reason:
        meta += f'<div style="color:{RED}">{_e(s.reason)}</div>'
    return (
        f'<div class="pylo-summary" style="{_BOX}">'
        + _header(s.execution_id, status, s.parent) + meta
        + bar(s.finished, s.failed, s.total) + _counts(s.finished, s.failed, s.total, s.inherited)
        + _workers(s.workers) + _exceptions(s.top_exceptions) + _resume(s, status)
        + "</div>"
    )


def pictures_html(*svgs: str) -> str:
    """Pictures (SVG drawn by ``pylo._ui.charts``, their text escaped there) side by side,
    wrapping onto new lines in a narrow notebook."""
    cells = "".join(f'<div style="flex:1 1 340px;min-width:0;max-width:640px">{svg}</div>' for svg in svgs)
    return f'<div class="pylo-pictures" style="display:flex;flex-wrap:wrap;gap:8px;margin:6px 0">{cells}</div>'


def progress_html(execution_id: str, status: str, progress: Progress) -> str:
    """The live view of a run, from its counts alone (no store read)."""
    p = progress
    return (
        f'<div class="pylo-run" style="{_BOX}">' + _header(execution_id, status, None)
        + bar(p.finished, p.failed, p.total) + _counts(p.finished, p.failed, p.total)
        + f'<div style="color:#6b7280">{count(p.attempts)} attempts so far</div></div>'
    )


def run_html(run: Run) -> str:
    """The run's summary from the store (JSON reads only) with its status; its live counts when
    it has no store to read or the store cannot be read."""
    # A run still going shows its own status; a settled one what the store says became of it
    # (a run that is "done" may have workers that gave up); a failed run says it failed.
    status: str | None = run.status.value
    if run.describe is not None:
        if run.status is Status.DONE or run.status is Status.CANCELLED:
            status = None
        from ..errors import PyloError

        try:
            view = summary_html(run.describe(), status=status)
        except PyloError:  # the store went away: the live counts are still worth showing
            pass
        else:
            return view + _drawn(run)
    return progress_html(run.id, run.status.value, run.progress())


def install_reprs() -> None:
    """Give ``Run`` and ``Summary`` their notebook view (``_repr_html_``, which Jupyter looks up
    on the class). Idempotent. ``setattr``: the core classes declare no view of their own."""
    setattr(Run, "_repr_html_", run_html)
    setattr(Summary, "_repr_html_", summary_html)


def _drawn(run: Run) -> str:
    """The run's pictures, or nothing when it has none or they cannot be read now."""
    if run.draw is None:
        return ""
    from ..errors import PyloError

    try:
        return run.draw()._repr_html_()
    except PyloError:  # the store went away between the summary and the pictures
        return ""
