"""Exception records: a failed attempt kept as data (type, message, traceback text), with the
exception object itself only when it pickles *and* unpickles. A record never breaks loading.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as _dt
import json
import pickle
import traceback
from typing import Any

import cloudpickle

from ..errors import CorruptSnapshot
from ._layout import FORMAT_VERSION
from ._segments import _load_json, check_version

__all__ = ["ExceptionRecord", "record_failure", "decode_records", "encode_records"]


@dataclasses.dataclass(frozen=True)
class ExceptionRecord:
    """One failed attempt of the task on one input. ``str(record)`` is the exception's message."""

    input: Any
    position: int
    worker: int
    attempt: int
    type: str
    message: str
    traceback: str
    time: str
    exception: BaseException | None = dataclasses.field(default=None, repr=False, compare=False)

    def __str__(self) -> str:
        return self.message


def record_failure(exc: BaseException, *, position: int, worker: int, attempt: int) -> dict[str, Any]:
    """A JSON-ready record of ``exc``; the user's exception may misbehave in any way, so every
    step that runs its code is guarded and falls back to text."""
    cls = type(exc)
    name = cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    return {
        "pos": position,
        "worker": worker,
        "attempt": attempt,
        "type": name,
        "message": _safe(lambda: str(exc), f"<unprintable {cls.__qualname__}>"),
        "traceback": _safe(lambda: "".join(traceback.format_exception(exc)), ""),
        "time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds"),
        "pickle": _pickled(exc),
    }


def _pickled(exc: BaseException) -> str | None:
    try:
        data = cloudpickle.dumps(exc)
        pickle.loads(data)  # only keep an object that also comes back
    except Exception:  # the exception's own code failed: keep the text only
        return None
    return base64.b64encode(data).decode("ascii")


def _safe(fn: Any, default: str) -> str:
    try:
        return str(fn())
    except Exception:  # a broken __str__ of a user's exception must not kill the worker
        return default


def encode_records(records: list[dict[str, Any]]) -> bytes:
    return json.dumps({"format": FORMAT_VERSION, "records": records}, separators=(",", ":")).encode()


def decode_records(data: bytes, path: str) -> list[dict[str, Any]]:
    obj = _load_json(data, path)
    check_version(obj, path)
    records = obj.get("records")
    if not isinstance(records, list) or not all(isinstance(r, dict) and isinstance(r.get("pos"), int) for r in records):
        raise CorruptSnapshot(f"corrupt exception records {path}", path)
    return records


def to_record(raw: dict[str, Any], *, value: Any, position: int) -> ExceptionRecord:
    """The public record for a raw one; an exception that no longer unpickles becomes ``None``."""
    return ExceptionRecord(
        input=value,
        position=position,
        worker=int(raw.get("worker", -1)),
        attempt=int(raw.get("attempt", 1)),
        type=str(raw.get("type", "")),
        message=str(raw.get("message", "")),
        traceback=str(raw.get("traceback", "")),
        time=str(raw.get("time", "")),
        exception=_unpickled(raw.get("pickle")),
    )


def _unpickled(data: Any) -> BaseException | None:
    if not isinstance(data, str):
        return None
    try:
        obj = pickle.loads(base64.b64decode(data))
    except Exception:  # the class moved or its code fails now: the text is still there
        return None
    return obj if isinstance(obj, BaseException) else None
