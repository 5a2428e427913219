"""Why an execution stopped before its end: the tolerance of the whole run, passed, and the
interruptions a run cannot ride out (its store or its cluster lost). Pure: no I/O, no Dask.

    worker flushes ─► Run.on_delta ─► Tolerance.passed(failed, concluded) ─► Stop ─► Run.give_up
                                                                 (the cancel path, with a reason)

A worker's own budget (``max_worker_failures``) stops that worker; the tolerance stops them all:
``max_failures`` failed inputs of the whole execution, or ``max_failure_rate`` of its inputs.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
from typing import Any

from .config import Config
from ..errors import ClusterLost, StoreUnreachable

__all__ = ["MIN_RATE_SAMPLE", "UNENDED", "UNREQUESTED", "Stop", "StopKind", "Tolerance", "ending", "stop_for_error",
           "waits_for_failure"]

#: ``max_failure_rate`` is judged on the inputs concluded so far only once this many have
#: concluded: the first few inputs say little (two failures out of the first three is not a
#: 67 % failure rate for a million inputs). Before that, and on runs smaller than it, the rate
#: stops the run once its failures pass ``rate × n_inputs``: the final rate is past it then,
#: whatever the rest does.
MIN_RATE_SAMPLE = 100


class StopKind(str, enum.Enum):
    """Why an execution stopped early; written to the store as this value."""

    TOLERANCE = "tolerance"  # more failed inputs than the execution tolerates
    STORE_UNREACHABLE = "store unreachable"  # the store failed past its retries
    CLUSTER_LOST = "cluster lost"  # the client lost the Dask scheduler
    INTERRUPTED = "interrupted"  # workers stopped with no cancel request: read, never written

    def __str__(self) -> str:
        return self.value


@dataclasses.dataclass(frozen=True)
class Stop:
    """Why an execution stopped, and the line every view shows."""

    kind: StopKind
    message: str

    @property
    def interrupted(self) -> bool:
        """Stopped by a failure around the run, not by its inputs: resume it as it is."""
        return self.kind is not StopKind.TOLERANCE

    def to_json(self) -> bytes:
        return json.dumps({"format": 1, "kind": self.kind.value, "message": self.message}).encode()

    @classmethod
    def from_obj(cls, obj: dict[str, Any]) -> Stop:
        """From a decoded record (its version checked by the reader); raises ``ValueError``,
        ``KeyError`` or ``TypeError`` for a record that does not hold one."""
        message = obj["message"]
        if not isinstance(message, str):
            raise TypeError(f"message must be a string, got {message!r}")
        return cls(StopKind(obj["kind"]), message)


@dataclasses.dataclass(frozen=True)
class Tolerance:
    """The failed inputs an execution of ``total`` inputs tolerates (``None``: no limit)."""

    max_failures: int | None = None
    max_failure_rate: float | None = None
    total: int = 0

    @property
    def limited(self) -> bool:
        return self.max_failures is not None or self.max_failure_rate is not None

    def describe(self) -> str | None:
        """The tolerance in words ("100 failed inputs", "1 % of the inputs"), ``None`` without one."""
        parts = [f"{self.max_failures} failed inputs"] if self.max_failures is not None else []
        if self.max_failure_rate is not None:
            parts.append(f"{_percent(self.max_failure_rate)} of the inputs")
        return " or ".join(parts) or None

    def passed(self, failed: int, concluded: int) -> Stop | None:
        """The stop, once ``failed`` of the ``concluded`` inputs (finished + failed) are more
        than the execution tolerates; ``None`` while they are not."""
        if self.max_failures is not None and failed > self.max_failures:
            return Stop(StopKind.TOLERANCE, f"gave up: {failed} failed input{'s' * (failed != 1)}, "
                                            f"tolerance {self.max_failures}")
        rate = self.max_failure_rate
        if rate is None or failed == 0:
            return None
        if failed > rate * self.total or (concluded >= MIN_RATE_SAMPLE and failed > rate * concluded):
            return Stop(StopKind.TOLERANCE, f"gave up: {failed} failed of {concluded} inputs run "
                                            f"({_percent(failed / max(concluded, 1))}), "
                                            f"tolerance {_percent(rate)}")
        return None


def waits_for_failure(config: Config, failed: int, concluded: int) -> bool:
    """Whether a worker that has ``failed`` of its ``concluded`` inputs waits for its latest
    failure to be written before its next input, so that the client stops the run within one
    failure per worker of its tolerance. Always with ``max_failures`` (a run stops after that
    many such waits); with a rate, only while this worker fails above it (a healthy worker of a
    run that tolerates thousands of failures never waits on the store)."""
    if config.max_failures is not None:
        return True
    rate = config.max_failure_rate
    return rate is not None and failed > rate * concluded


def stop_for_error(error: BaseException | None) -> Stop | None:
    """What a run that ended with ``error`` says about it, when the error interrupted it."""
    if isinstance(error, StoreUnreachable):
        return Stop(StopKind.STORE_UNREACHABLE, "store unreachable: interrupted, resumable")
    if isinstance(error, ClusterLost):
        return Stop(StopKind.CLUSTER_LOST, "cluster lost: interrupted, resumable")
    return None


#: What the store says of workers that stopped as on a cancel that nobody requested: the
#: client stopped them because something failed around the run (it could not write why).
UNREQUESTED = Stop(StopKind.INTERRUPTED, "stopped without a cancel request (its store or cluster "
                                         "failed): interrupted, resumable")
#: What the store says of an execution some of whose workers never recorded their end, and that
#: nothing runs any more: their store, cluster or process was lost under them.
UNENDED = Stop(StopKind.INTERRUPTED, "workers never recorded their end (their store, cluster or "
                                     "process was lost): interrupted, resumable")


def ending(recorded: Stop | None, *, workers_cancelled: bool, cancel_requested: bool,
           abandoned: bool = False) -> Stop | None:
    """Why an execution stopped, from the store: the recorded reason; else an interruption when
    its workers stopped as on a cancel though nobody asked for one, or when some never ended
    and nothing runs it (``abandoned``)."""
    if recorded is not None:
        return recorded
    if abandoned:
        return UNENDED
    return UNREQUESTED if workers_cancelled and not cancel_requested else None


def _percent(fraction: float) -> str:
    """``0.0125`` → ``1.25 %``: enough digits to tell a rate from its tolerance."""
    text = f"{fraction * 100:.2f}".rstrip("0").rstrip(".")
    return f"{text} %" if math.isfinite(fraction) else "?"
