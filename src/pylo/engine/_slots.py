"""Concurrency limits: how many jobs may run at once, in total and per kind. Pure bookkeeping.

A job takes a slot when it starts and gives it back when its attempt ends, fails to start, is
cancelled or is retried later: every exit path goes through ``give``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .._core.config import _check_int

__all__ = ["Slots"]


class Slots:
    """``total``: jobs running at once (``None``: no limit), not counting the kinds in
    ``outside_total``; ``per_kind``: the same per kind."""

    def __init__(self, total: int | None, per_kind: Mapping[str, int | None], outside_total: Iterable[str] = ()) -> None:
        for what, value in [("max_jobs", total), *((f"limit of {k!r} jobs", v) for k, v in per_kind.items())]:
            if value is not None:
                _check_int(what, value, minimum=1)
        self.total = total
        self.per_kind = dict(per_kind)
        self.outside_total = frozenset(outside_total)
        self.running: dict[str, int] = {}
        self.running_total = 0

    def free(self, kind: str) -> bool:
        """Whether a job of ``kind`` may start now."""
        if self.total is not None and self.running_total >= self.total and kind not in self.outside_total:
            return False
        limit = self.per_kind.get(kind)
        return limit is None or self.running.get(kind, 0) < limit

    def take(self, kind: str) -> None:
        self.running[kind] = self.running.get(kind, 0) + 1
        self.running_total += kind not in self.outside_total

    def give(self, kind: str) -> None:
        count = self.running.get(kind, 0)
        if count <= 0:
            raise RuntimeError(f"no {kind} slot to give back")
        self.running[kind] = count - 1
        self.running_total -= kind not in self.outside_total
