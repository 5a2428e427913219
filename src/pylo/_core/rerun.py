"""Which unfinished inputs a resume reruns (``only=``, ``pending=``): pure decisions on records.

An unfinished input either failed (it has a last exception record, or at least a failed count
when records were not kept) or is pending (never attempted). ``only`` names the failures to rerun:
an exception type, a name, a tuple of them, or a predicate on the ``ExceptionRecord``. Types are
matched on the class names the record keeps (its own and its bases'), never on the exception
object, which may not load where the record is read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Union

from ..errors import InvalidArgument
from ..store import ExceptionRecord
from ..store._exception_records import type_name

__all__ = ["Only", "Selector", "last_failures", "matcher", "reruns"]

#: What ``only=`` accepts.
Only = Union[type[BaseException], str, tuple[Union[type[BaseException], str], ...], Callable[[ExceptionRecord], bool]]

#: A compiled ``only``: does this record's failure rerun?
Selector = Callable[[ExceptionRecord], bool]


def matcher(only: Only | None) -> Selector | None:
    """Compile ``only`` once (``None`` stays ``None``: every failure reruns). Raises
    ``InvalidArgument`` for anything that is neither a type, a name, a tuple of them nor a
    callable."""
    if only is None:
        return None
    if isinstance(only, (type, str)):
        return _names_matcher((_name(only),))
    if isinstance(only, tuple):
        if not only:
            raise InvalidArgument("only=() names no exception type; pass None to rerun every failure")
        return _names_matcher(tuple(_name(t) for t in only))
    if callable(only):
        return only
    raise InvalidArgument(
        f"only must be an exception type, a type name, a tuple of them or a predicate on the record, got {only!r}"
    )


def reruns(last: ExceptionRecord | None, attempted: bool, select: Selector | None, pending: bool) -> bool:
    """Whether an unfinished input reruns, given its last failure (``None`` when none was kept)
    and whether it was ever attempted.

    A failure without a record (``store_exceptions=False``) cannot be matched: it reruns only
    when ``only`` is not given."""
    if last is not None:
        return select is None or bool(select(last))
    if attempted:
        return select is None
    return pending


def _name(kind: object) -> str:
    if isinstance(kind, str):
        if not kind:
            raise InvalidArgument("only= got an empty type name")
        return kind
    if isinstance(kind, type) and issubclass(kind, BaseException):
        return type_name(kind)
    raise InvalidArgument(f"only= expects exception types or their names, got {kind!r}")


def _names_matcher(names: tuple[str, ...]) -> Selector:
    wanted = frozenset(names)

    def matches(record: ExceptionRecord) -> bool:
        return any(_named(cls, wanted) for cls in record.mro or (record.type,))

    matches.__qualname__ = f"only({', '.join(names)})"
    return matches


def _named(recorded: str, wanted: frozenset[str]) -> bool:
    """``recorded`` is ``module.Qualname`` (or a builtin's bare name): a wanted name matches it
    whole or as its last part, so ``"AttemptTimeout"`` finds ``pylo._core.timeout.AttemptTimeout``."""
    return recorded in wanted or recorded.rsplit(".", 1)[-1] in wanted


def last_failures(raw: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """The last raw record of each position (highest attempt, then latest time)."""
    last: dict[int, dict[str, Any]] = {}
    for rec in raw:
        pos = rec["pos"]
        key = (int(rec.get("attempt", 1)), str(rec.get("time", "")))
        old = last.get(pos)
        if old is None or key > (int(old.get("attempt", 1)), str(old.get("time", ""))):
            last[pos] = rec
    return last
