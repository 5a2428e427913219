"""Exception records: a failed attempt kept as data (type, message, traceback text), with the
exception object itself only when it pickles *and* unpickles. A record never breaks loading.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import pickle
import traceback
from typing import Any

import cloudpickle

from .._clock import utc_text
from ..errors import CorruptSnapshot
from ._layout import FORMAT_VERSION
from ._segments import _load_json, check_version

__all__ = ["ExceptionRecord", "cut", "decode_records", "encode_records", "record_failure", "type_name"]


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
    #: The names of the exception's classes, its own first (``type``), then its bases in method
    #: resolution order: what ``only=`` matches on, since the object itself may not load.
    mro: tuple[str, ...] = dataclasses.field(default=(), repr=False)

    def __str__(self) -> str:
        return self.message


def record_failure(exc: BaseException, *, position: int, worker: int, attempt: int) -> dict[str, Any]:
    """A JSON-ready record of ``exc``; the user's exception may misbehave in any way, so every
    step that runs its code is guarded and falls back to text."""
    cls = type(exc)
    return {
        "pos": position,
        "worker": worker,
        "attempt": attempt,
        "type": cut(type_name(cls), MAX_TYPE_CHARS),
        "mro": [cut(type_name(c), MAX_TYPE_CHARS) for c in cls.__mro__[:-1]],  # without ``object``
        "message": cut(_safe(lambda: str(exc), f"<unprintable {cls.__qualname__}>"), MAX_MESSAGE_CHARS),
        "traceback": cut(_safe(lambda: "".join(traceback.format_exception(exc)), ""), MAX_TRACEBACK_CHARS),
        "time": utc_text(),
        "pickle": _pickled(exc),
    }


def type_name(cls: type) -> str:
    """How a class is named in a record: ``ValueError`` for builtins, ``module.Qualname`` else."""
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


# A record's size is bounded: a task raising a 10 MB message must not make every flush (up to
# task_executions_before_flush records) hundreds of MB, nor exceed what a reader accepts.
MAX_TYPE_CHARS = 1_000
MAX_MESSAGE_CHARS = 8_000
MAX_TRACEBACK_CHARS = 32_000
#: An exception object pickled larger than this is not kept (a pickle cannot be cut); its text is.
MAX_PICKLE_BYTES = 64_000


def cut(text: str, limit: int) -> str:
    """``text`` when it fits in ``limit`` characters, else its head and tail around a line that
    says how much was cut (the end of a traceback is where the error is)."""
    if len(text) <= limit:
        return text
    marker = f"\n[… {{}} characters cut by pylo …]\n"
    room = limit - len(marker.format(len(text)))
    head, tail = room // 2, room - room // 2
    return text[:head] + marker.format(len(text) - head - tail) + text[len(text) - tail :]


def _pickled(exc: BaseException) -> str | None:
    try:
        data = cloudpickle.dumps(exc)
        if len(data) > MAX_PICKLE_BYTES:
            return None  # too large to keep with every attempt: the text stays
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
        mro=_names(raw.get("mro"), str(raw.get("type", ""))),
    )


def _names(mro: Any, own: str) -> tuple[str, ...]:
    """The recorded class names; a record written before they were kept has its own type only."""
    if isinstance(mro, list) and mro and all(isinstance(n, str) for n in mro):
        return tuple(mro)
    return (own,) if own else ()


def _unpickled(data: Any) -> BaseException | None:
    if not isinstance(data, str):
        return None
    try:
        obj = pickle.loads(base64.b64decode(data))
    except Exception:  # the class moved or its code fails now: the text is still there
        return None
    return obj if isinstance(obj, BaseException) else None
