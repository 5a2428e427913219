"""The pure decisions of a worker: retries with backoff and jitter, the failure budget."""

from __future__ import annotations

import pytest

from pylo._core.config import Config
from pylo._core.decide import RetryPolicy, WorkerTally, gives_up


@pytest.mark.parametrize(
    ("policy", "failed_attempts", "rand", "expected"),
    [
        (RetryPolicy(), 1, 0.5, None),  # the original pylo's default: no retry
        (RetryPolicy(retries=2), 1, 0.5, 0.0),
        (RetryPolicy(retries=2), 2, 0.5, 0.0),
        (RetryPolicy(retries=2), 3, 0.5, None),
        (RetryPolicy(retries=5, delay=1.0, backoff=2.0), 1, 0.5, 1.0),
        (RetryPolicy(retries=5, delay=1.0, backoff=2.0), 3, 0.5, 4.0),
        (RetryPolicy(retries=9, delay=1.0, backoff=10.0, max_delay=50.0), 4, 0.5, 50.0),
        (RetryPolicy(retries=1, delay=2.0, jitter=0.5), 1, 0.0, 1.0),
        (RetryPolicy(retries=1, delay=2.0, jitter=0.5), 1, 1.0, 3.0),
    ],
)
def test_next_delay(policy: RetryPolicy, failed_attempts: int, rand: float, expected: float | None) -> None:
    assert policy.next_delay(failed_attempts, rand) == expected


def test_policy_from_config() -> None:
    config = Config(retries=3, retry_delay=0.5, retry_backoff=3.0, retry_max_delay=9.0, retry_jitter=0.1)
    assert RetryPolicy.from_config(config) == RetryPolicy(3, 0.5, 3.0, 9.0, 0.1)


@pytest.mark.parametrize(
    ("failed_attempts", "budget", "expected"),
    [(0, 0, False), (1, 0, True), (2, 2, False), (3, 2, True), (1000, 1000, False), (1001, 1000, True)],
)
def test_gives_up_one_past_the_budget(failed_attempts: int, budget: int, expected: bool) -> None:
    assert gives_up(failed_attempts, budget) is expected


def test_tally_add_is_a_new_value() -> None:
    tally = WorkerTally(worker=3)
    after = tally.add(finished=5, failed=1)
    assert (tally.finished, after.finished, after.failed, after.worker) == (0, 5, 1, 3)


@pytest.mark.parametrize(
    ("stride", "elapsed", "expected"),
    [
        (1, 0.00001, 2),  # no-op inputs: read the clock less and less often
        (128, 0.0001, 256),
        (256, 0.0001, 256),  # capped
        (64, 0.0007, 64),  # about right: keep
        (64, 0.002, 1),  # slower inputs: read the clock after every one again
        (1, 5.0, 1),
    ],
)
def test_next_stride(stride: int, elapsed: float, expected: int) -> None:
    from pylo._core.decide import next_stride

    assert next_stride(stride, elapsed) == expected
