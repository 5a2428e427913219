"""The pure decisions of a worker: when to retry an input, when to give up, when to flush.

No I/O and no Dask here: the block runner (``block.py``) asks, then acts on the answer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING

from .config import Config

if TYPE_CHECKING:
    from ..store import BlockState

__all__ = ["CLOCK_READ_INTERVAL", "RetryPolicy", "WorkerTally", "gives_up", "next_stride"]


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """How often and how long after a failed attempt an input is tried again."""

    retries: int = 0
    delay: float = 0.0
    backoff: float = 2.0
    max_delay: float = 300.0
    jitter: float = 0.0

    @classmethod
    def from_config(cls, config: Config) -> RetryPolicy:
        return cls(
            retries=config.retries,
            delay=config.retry_delay,
            backoff=config.retry_backoff,
            max_delay=config.retry_max_delay,
            jitter=config.retry_jitter,
        )

    def next_delay(self, failed_attempts: int, rand: float = 0.5) -> float | None:
        """Seconds to wait before the next attempt, or ``None`` when the input is out of retries.

        ``failed_attempts`` counts this input's failed attempts so far (≥ 1); ``rand`` is a
        uniform draw in [0, 1) that spreads the delay by ``± jitter``.
        """
        if failed_attempts > self.retries:
            return None
        base = min(self.delay * self.backoff ** (failed_attempts - 1), self.max_delay)
        return max(0.0, base * (1.0 + self.jitter * (2.0 * rand - 1.0)))


def gives_up(failed_attempts: int, max_worker_failures: int) -> bool:
    """A worker tolerates ``max_worker_failures`` failed attempts and gives up on the next one."""
    return failed_attempts > max_worker_failures


# A block reads the clock (for flushes and cancel checks) about this often, in seconds.
CLOCK_READ_INTERVAL = 0.001
MAX_STRIDE = 256


def next_stride(stride: int, elapsed: float) -> int:
    """Inputs to run before the next clock read, given that the last ``stride`` inputs took
    ``elapsed`` seconds: double while reads come much faster than CLOCK_READ_INTERVAL, fall back
    to every input as soon as they do not (a slow task is never run blind)."""
    if elapsed < CLOCK_READ_INTERVAL / 2:
        return min(stride * 2, MAX_STRIDE)
    return 1 if elapsed >= CLOCK_READ_INTERVAL else stride


@dataclasses.dataclass(frozen=True)
class WorkerTally:
    """What a worker has done so far; it flows from block to block along the worker's chain."""

    worker: int
    finished: int = 0
    failed: int = 0
    failed_attempts: int = 0
    attempts: int = 0
    gave_up: bool = False
    blocks: int = 0
    lost_blocks: tuple[int, ...] = ()
    started: str = ""

    def add(self, **deltas: int) -> WorkerTally:
        """A tally with each named count increased by its delta."""
        return dataclasses.replace(self, **{k: getattr(self, k) + v for k, v in deltas.items()})

    @classmethod
    def of_blocks(cls, worker: int, states: Iterable[BlockState], lost_blocks: tuple[int, ...] = ()) -> WorkerTally:
        """The tally of a worker that will never say its own (cancelled while queued, abandoned
        in a hung call, died with its Dask worker), from what its blocks' segments say."""
        states = list(states)
        return cls(worker=worker, lost_blocks=lost_blocks, finished=sum(len(b.finished) for b in states),
                   failed=sum(len(b.failed) for b in states), failed_attempts=sum(b.failed_attempts for b in states))
