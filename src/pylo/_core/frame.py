"""Failures as a table: exception records to a ``pandas.DataFrame`` (pandas is optional)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .._extras import require
from ..store import ExceptionRecord
from ..store._results import short_repr

__all__ = ["COLUMNS", "records_frame", "traceback_ends"]

COLUMNS = ("position", "input", "worker", "attempt", "type", "message", "time", "traceback_first", "traceback_last")


def records_frame(records: Iterable[ExceptionRecord]) -> Any:
    """One row per failed attempt, in the records' order (input order). Raises ``ImportError``
    naming the extra to install when pandas is missing."""
    pd = require("pandas", "exceptions_frame")
    rows = []
    for rec in records:
        first, last = traceback_ends(rec.traceback)
        rows.append((rec.position, short_repr(rec.input, 200), rec.worker, rec.attempt, rec.type, rec.message,
                     rec.time, first, last))
    return pd.DataFrame.from_records(rows, columns=list(COLUMNS))


def traceback_ends(text: str) -> tuple[str, str]:
    """The first frame of the task's own code (the first one outside pylo) and the last line
    (``ValueError: bad input``) of a formatted traceback; empty strings when there is none."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return "", ""
    frames = [line for line in lines if line.startswith("File ")]
    outside = [f for f in frames if "/pylo/" not in f.replace("\\", "/")]
    first = (outside or frames or lines)[0]
    return first, lines[-1]

