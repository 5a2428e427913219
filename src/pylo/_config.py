"""The options of an execution: one frozen, keyword-only value, validated once at construction."""

from __future__ import annotations

import dataclasses
import math
import threading
from typing import Any

from .errors import InvalidArgument

__all__ = ["MAX_BLOCK_SIZE", "MAX_SECONDS", "Config"]

#: The largest block: a block's inputs and its state are held in memory at once, and readers
#: refuse a manifest that claims more (a hostile store must not make them allocate without bound).
MAX_BLOCK_SIZE = 1_000_000
#: The longest wait any option can ask for: what ``threading`` can wait on (about 292 years on
#: Linux, 49 days on Windows); a longer one raises ``OverflowError`` deep inside a worker.
MAX_SECONDS = float(threading.TIMEOUT_MAX)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config:
    """How workers run a task over inputs.

    ``number_of_workers`` — sequential runners; ``None`` lets the backend choose (threads: the CPU
    count, Dask: the cluster's threads).
    ``max_worker_failures`` — failed attempts a worker tolerates; one more and it gives up.
    ``task_executions_before_flush`` / ``flush_interval`` — flush after that many attempts or that
    many seconds, whichever comes first.
    ``retries`` — extra attempts per input; the n-th retry waits
    ``min(retry_delay * retry_backoff**(n-1), retry_max_delay)``, scaled by ``1 ± retry_jitter``.
    ``block_size`` — inputs per block, the unit of storage, progress and rerun (at most
    ``MAX_BLOCK_SIZE``).
    ``store_results`` — keep each finished input's return value in the store, written with the
    progress of the same flush; a value that cannot be serialized fails its attempt.
    ``timeout`` — seconds one attempt may take before it counts as failed, recorded as a
    ``TimeoutError`` (``None``: no limit). Attempts then run on a helper thread; a Python thread
    cannot be killed, so a hung call is abandoned — it runs on in the background until it returns —
    and the worker goes on with the next attempt (see ``pylo._core.timeout``).
    ``lease_interval`` — seconds between two renewals of a running worker's lease in the store;
    a worker that stopped renewing counts as dead after four intervals (see ``pylo.store._leases``).
    ``cancel_poll`` — seconds between two looks of a running worker for a cancel asked through the
    store (from another cluster, the CLI); a cancel from the same Dask cluster or process comes
    at once, without the store.
    ``max_failures`` — failed inputs the whole execution tolerates (``None``: no limit); one more
    and every worker stops, as on a cancel, and the execution says why ("gave up: 101 failed
    inputs, tolerance 100"). Unlike ``max_worker_failures`` it counts inputs, not attempts, over
    all the workers. A resume counts its own failures against its own tolerance.
    ``max_failure_rate`` — the same as a fraction of the execution's inputs, in [0, 1]: judged on
    the inputs concluded so far once ``MIN_RATE_SAMPLE`` (100) have concluded, and at any time
    against all of them (see ``pylo._core.tolerance``). With either set, a failed input is
    flushed at once, and the worker waits for that write before its next input — always with
    ``max_failures`` (at most ``max_failures`` + one per worker such waits: the run stops there),
    with a rate only while that worker fails above it. The failed inputs recorded stay within
    the tolerance plus what was in flight: one per worker, and on Dask those that failed while
    the stop travelled to the workers, or with a rate those of workers failing below it.
    ``cancel_grace`` — seconds a cancelled (or stopped) run waits for an input that does not
    return; then the run ends as cancelled, that input pending, and the thread running it is
    abandoned with a warning (Python cannot stop a thread; set ``timeout`` to bound every attempt).
    On Dask the stuck worker's lease is ended then, and the Dask worker's thread stays busy until
    the call returns.

    ``max_input_deaths`` — on Dask, how many deaths of its process an input may be found running
    at before it is recorded *failed* with a ``WorkerDied`` record and the rest of its block runs
    (default 2: one death may be a coincidence, such as a neighbour's memory). After a death the
    rerun of that block writes, before each input, which one is running (careful mode: one small
    write per input, only in the block that was running at a death), so the input is known.

    ``flush_interval``, ``lease_interval`` and ``cancel_poll`` set how often a worker makes a store
    request. The defaults here are local disk's; ``Pylo``'s constructors give those not passed
    the defaults of their store, which on an object store keep a worker under one request every
    5 s (see ``pylo.store._cadence``: the request budget, and what each period bounds).

    Every number must be finite: a bool, NaN or infinity is refused, and so is a duration longer
    than ``MAX_SECONDS`` (``threading.TIMEOUT_MAX``).
    """

    number_of_workers: int | None = None
    max_worker_failures: int = 1000
    task_executions_before_flush: int = 1000
    store_exceptions: bool = True
    retries: int = 0
    retry_delay: float = 0.0
    retry_backoff: float = 2.0
    retry_max_delay: float = 300.0
    retry_jitter: float = 0.0
    flush_interval: float = 5.0
    block_size: int = 10_000
    timeout: float | None = None
    store_results: bool = False
    lease_interval: float = 2.0
    cancel_poll: float = 0.2
    max_failures: int | None = None
    max_failure_rate: float | None = None
    cancel_grace: float = 30.0
    max_input_deaths: int = 2

    def __post_init__(self) -> None:
        if self.number_of_workers is not None:
            _check_int("number_of_workers", self.number_of_workers, minimum=1)
        _check_int("max_worker_failures", self.max_worker_failures, minimum=0)
        _check_int("task_executions_before_flush", self.task_executions_before_flush, minimum=1)
        _check_int("retries", self.retries, minimum=0)
        _check_int("block_size", self.block_size, minimum=1, maximum=MAX_BLOCK_SIZE)
        if not isinstance(self.store_exceptions, bool):
            raise InvalidArgument(f"store_exceptions must be a bool, got {self.store_exceptions!r}")
        if not isinstance(self.store_results, bool):
            raise InvalidArgument(f"store_results must be a bool, got {self.store_results!r}")
        _check_float("retry_delay", self.retry_delay, minimum=0.0)
        _check_float("retry_backoff", self.retry_backoff, minimum=1.0, maximum=1000.0)
        _check_float("retry_max_delay", self.retry_max_delay, minimum=0.0)
        _check_float("retry_jitter", self.retry_jitter, minimum=0.0, maximum=1.0)
        _check_float("flush_interval", self.flush_interval, minimum=0.0, positive=True)
        _check_float("lease_interval", self.lease_interval, minimum=0.0, positive=True)
        _check_float("cancel_poll", self.cancel_poll, minimum=0.0, positive=True)
        if self.timeout is not None:
            _check_float("timeout", self.timeout, minimum=0.0, positive=True)
        if self.max_failures is not None:
            _check_int("max_failures", self.max_failures, minimum=0)
        if self.max_failure_rate is not None:
            _check_float("max_failure_rate", self.max_failure_rate, minimum=0.0, maximum=1.0)
        _check_float("cancel_grace", self.cancel_grace, minimum=0.0)
        _check_int("max_input_deaths", self.max_input_deaths, minimum=1)

    def replace(self, **changes: Any) -> Config:
        """A copy with ``changes`` applied (and validated)."""
        return dataclasses.replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Config:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def _check_int(name: str, value: object, *, minimum: int, maximum: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{name} must be an int, got {value!r}")
    if value < minimum:
        raise InvalidArgument(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise InvalidArgument(f"{name} must be <= {maximum:,}, got {value:,}")


def _check_float(
    name: str, value: object, *, minimum: float, maximum: float = MAX_SECONDS, positive: bool = False
) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidArgument(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value) or value < minimum or value > maximum or (positive and value <= 0):
        low = f"> {minimum}" if positive else f">= {minimum}"
        raise InvalidArgument(f"{name} must be a finite number {low} and <= {maximum:g}, got {value}")
