"""Engine test fixtures: a clock advanced by hand, an engine, and job functions pickled by value."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import cloudpickle
import pytest

import engine_tasks
from engine_helpers import ManualClock

cloudpickle.register_pickle_by_value(engine_tasks)


@pytest.fixture
def manual_clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def engine() -> Iterator[Any]:
    from pylo.engine import Engine

    with Engine() as eng:
        yield eng
