"""Config values are validated once, with a message naming the argument."""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

import pytest

from pylo import Config, InvalidArgument

INF, NAN = float("inf"), float("nan")
TOO_LONG = threading.TIMEOUT_MAX * 2
FLOATS = ["retry_delay", "retry_backoff", "retry_max_delay", "retry_jitter", "flush_interval", "timeout",
          "lease_interval", "cancel_poll", "max_failure_rate", "cancel_grace"]
INTS = ["number_of_workers", "max_worker_failures", "task_executions_before_flush", "retries", "block_size",
        "max_failures", "max_input_deaths"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("number_of_workers", 0),
        ("number_of_workers", -1),
        ("number_of_workers", 1.5),
        ("number_of_workers", True),
        ("max_worker_failures", -1),
        ("task_executions_before_flush", 0),
        ("retries", -1),
        ("retry_delay", -0.1),
        ("retry_backoff", 0.5),
        ("retry_jitter", 1.5),
        ("flush_interval", 0),
        ("flush_interval", -1),
        ("flush_interval", float("nan")),
        ("block_size", 0),
        ("timeout", 0),
        ("timeout", -5),
        ("store_exceptions", "yes"),
        # Infinity, NaN, bools and waits longer than threading can wait on, in every numeric option:
        # an infinite timeout used to pass and then fail every attempt with OverflowError.
        *[(name, bad) for name in FLOATS for bad in (INF, -INF, NAN, True, TOO_LONG)],
        *[(name, bad) for name in INTS for bad in (True, False, 2.0, INF)],
        ("block_size", 10**10),
    ],
)
def test_invalid_values_name_the_argument(name: str, value: Any) -> None:
    with pytest.raises(InvalidArgument, match=name):
        Config(**{name: value})


def test_defaults_are_the_seeds() -> None:
    config = Config()
    assert (config.max_worker_failures, config.task_executions_before_flush, config.store_exceptions) == (1000, 1000, True)
    assert config.retries == 0


def test_frozen_and_round_trips_through_json() -> None:
    config = Config(retries=2, block_size=50, timeout=1.5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.retries = 3  # type: ignore[misc]
    assert Config.from_json(config.to_json()) == config
    assert config.replace(retries=4).retries == 4


def test_every_numeric_option_is_covered() -> None:
    numeric = {f.name for f in dataclasses.fields(Config) if f.type not in ("bool", bool)}  # the flags are not numbers
    assert numeric == set(FLOATS) | set(INTS)


def test_long_but_finite_values_pass() -> None:
    config = Config(timeout=86_400.0, retry_max_delay=3600.0, flush_interval=600.0, block_size=1_000_000)
    assert config.timeout == 86_400.0
