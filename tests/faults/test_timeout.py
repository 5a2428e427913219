"""A hung input: with ``timeout``, an attempt that runs too long counts as failed with a
``TimeoutError`` record, and the worker goes on (the hung call is abandoned on its helper thread)."""

from __future__ import annotations

import functools
import threading
from pathlib import Path
from typing import Any

import pytest

import fault_tasks
from pylo import Pylo

pytestmark = pytest.mark.slow


@pytest.fixture
def release() -> Any:
    event = threading.Event()
    yield event
    event.set()  # let the abandoned calls end


def test_a_hung_input_times_out_on_threads(tmp_path: Path, release: threading.Event) -> None:
    # The hung calls wait for ``release``, set only after the test: the run can end only if the
    # workers left them behind. The limit is far above what a no-op input takes on a loaded machine.
    pylo = Pylo.local_multithread(str(tmp_path / "s"), number_of_workers=2, timeout=1.0, retries=1)
    eid = pylo.start_from_scratch(range(20), functools.partial(fault_tasks.hangs, release, {3, 12}), progress=False)
    assert not release.is_set()
    finished, unfinished = pylo.get_state(eid)
    assert unfinished == [3, 12] and finished == [x for x in range(20) if x not in (3, 12)]
    records = pylo.get_exceptions(eid)
    assert [(r.input, r.attempt) for r in records] == [(3, 1), (3, 2), (12, 1), (12, 2)]
    assert all(isinstance(r.exception, TimeoutError) and "timeout of 1s" in r.message for r in records)
    assert all(r.type == "pylo._core.timeout.AttemptTimeout" for r in records)


def test_a_timeout_does_not_hide_the_task_own_errors(tmp_path: Path) -> None:
    import tasks

    pylo = Pylo.local_multithread(str(tmp_path / "s"), number_of_workers=1, timeout=5.0)
    eid = pylo.start_from_scratch(range(15), tasks.fail_multiples_of_7, progress=False)
    assert [(r.input, r.type) for r in pylo.get_exceptions(eid)] == [(0, "ValueError"), (7, "ValueError"), (14, "ValueError")]
    assert "fail_multiples_of_7" in pylo.get_exceptions(eid)[0].traceback


def test_a_hung_input_times_out_on_dask(dask_client: Any, tmp_path: Path) -> None:
    gates = tmp_path / "gates"
    gates.mkdir()
    pylo = Pylo.dask(dask_client, str(tmp_path / "s"), number_of_workers=2, timeout=0.5)
    task = functools.partial(fault_tasks.gated, str(tmp_path), str(gates), (4,))
    try:
        eid = pylo.start_from_scratch(range(10), task, progress=False)
    finally:
        (gates / "open-4").touch()  # the abandoned call in the Dask worker ends
    assert pylo.get_state(eid) == ([x for x in range(10) if x != 4], [4])
    [record] = pylo.get_exceptions(eid)
    assert record.input == 4 and isinstance(record.exception, TimeoutError)


def test_get_worker_works_inside_a_timed_attempt_on_dask(dask_client: Any, tmp_path: Path) -> None:
    pylo = Pylo.dask(dask_client, str(tmp_path / "s"), number_of_workers=2, timeout=30.0)
    eid = pylo.start_from_scratch(range(10), fault_tasks.needs_dask_worker, progress=False)
    assert pylo.get_state(eid) == (list(range(10)), [])
    assert pylo.get_exceptions(eid) == []


def test_an_interrupt_passes_through_a_timed_attempt(tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    calls.mkdir()
    pylo = Pylo.local_multithread(str(tmp_path / "s"), number_of_workers=1, timeout=5.0)
    with pytest.raises(KeyboardInterrupt):
        pylo.start_from_scratch(range(10), functools.partial(fault_tasks.interrupts, str(calls), 4, "KeyboardInterrupt"),
                                progress=False)
    assert pylo.get_state(pylo.executions()[-1]) == ([0, 1, 2, 3], list(range(4, 10)))
