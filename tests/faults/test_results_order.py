"""A finished input always has its result: the results object of a flush is written before its
progress segment, so when it cannot be written the inputs of that flush do not count as finished."""

from __future__ import annotations

import functools
import glob
import os
from pathlib import Path

import pytest

import tasks
from pylo import Pylo


def test_a_flush_whose_results_cannot_be_written_finishes_nothing(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    pylo = Pylo.local_multithread(store, number_of_workers=1, store_results=True, task_executions_before_flush=5)
    run = pylo.submit(range(20), functools.partial(tasks.block_results_dir_then_double, store))
    with pytest.raises(NotADirectoryError):
        run.wait()
    assert pylo.get_state(run.id)[0] == []  # the segment was not written either
    (blocker,) = glob.glob(os.path.join(store, "*", "results"))
    os.remove(blocker)
    again = pylo.start_from_past_execution(run.id, lambda x: 2 * x, progress=False)
    assert list(pylo.get_results(again)) == [(x, 2 * x) for x in range(20)]
