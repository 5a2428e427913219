"""Config values are validated once, with a message naming the argument."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from pylo import Config, InvalidArgument


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
