"""Dask objects as inputs, handed over as a Dask user hands them: run over their values
(resolved on the cluster), or refused before any work with what to pass instead."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dask.array as da
import dask.bag as db
import dask.dataframe as dd
import pandas as pd
import pytest

from pylo import Pylo
from pylo.errors import InvalidArgument


def _double(x: Any) -> Any:
    return x * 2


def _inc(x: int) -> int:
    return x + 1


def _row_total(row: dict[str, Any]) -> Any:
    return row["id"] + row["v"]


def _frame() -> Any:
    return dd.from_pandas(pd.DataFrame({"id": [1, 2, 3, 4], "v": [10, 20, 30, 40]}), npartitions=2)


@pytest.fixture(params=["threads", "dask"])
def pylo(request: pytest.FixtureRequest, tmp_path: Path) -> Pylo:
    if request.param == "threads":
        return Pylo.local_multithread(tmp_path, 2, store_results=True)
    return Pylo.dask(request.getfixturevalue("dask_client"), tmp_path, store_results=True)


def test_a_dask_dataframe_is_refused_with_what_to_pass(pylo: Pylo) -> None:
    with pytest.raises(InvalidArgument, match=r"Dask DataFrame.*column names.*df\.to_bag\(index=False, format='dict'\)"):
        pylo.start_from_scratch(_frame(), _row_total, progress=False)
    assert pylo.executions() == []  # before any work


def test_its_rows_as_the_error_says(pylo: Pylo) -> None:
    eid = pylo.start_from_scratch(_frame().to_bag(index=False, format="dict"), _row_total, progress=False)
    assert [r for _, r in pylo.get_results(eid)] == [11, 22, 33, 44]


def test_a_dask_series_runs_over_its_values(pylo: Pylo) -> None:
    eid = pylo.start_from_scratch(_frame()["v"], _double, progress=False)
    assert list(pylo.get_results(eid)) == [(10, 20), (20, 40), (30, 60), (40, 80)]


def test_a_dask_array_is_refused_with_what_to_pass(pylo: Pylo) -> None:
    with pytest.raises(InvalidArgument, match=r"Dask Array.*to_bag"):
        pylo.start_from_scratch(da.arange(6, chunks=3), _double, progress=False)
    assert pylo.executions() == []


def test_a_list_of_futures_runs_over_their_values(tmp_path: Path, dask_client: Any) -> None:
    pylo = Pylo.dask(dask_client, tmp_path, store_results=True, block_size=7)
    futures = dask_client.map(_inc, range(20))
    eid = pylo.start_from_scratch(futures, _double, progress=False)
    assert list(pylo.get_results(eid)) == [(x + 1, 2 * (x + 1)) for x in range(20)]
    assert [b.count for b in pylo.store.read_manifest(eid).blocks] == [7, 7, 6]


def test_a_list_with_some_futures_runs_over_the_values(tmp_path: Path, dask_client: Any) -> None:
    pylo = Pylo.dask(dask_client, tmp_path, store_results=True)
    eid = pylo.start_from_scratch([1, dask_client.submit(_inc, 1), 3], _double, progress=False)
    assert list(pylo.get_results(eid)) == [(1, 2), (2, 4), (3, 6)]


def test_the_future_of_client_compute_runs_over_its_value(tmp_path: Path, dask_client: Any) -> None:
    pylo = Pylo.dask(dask_client, tmp_path, store_results=True)
    future = dask_client.compute(db.from_sequence(range(5), npartitions=2).map(_inc))
    eid = pylo.start_from_scratch(future, _double, progress=False)
    assert list(pylo.get_results(eid)) == [(x + 1, 2 * (x + 1)) for x in range(5)]


def test_the_future_of_a_computed_dataframe_is_refused(tmp_path: Path, dask_client: Any) -> None:
    pylo = Pylo.dask(dask_client, tmp_path)
    future = dask_client.compute(_frame())
    with pytest.raises(InvalidArgument, match=r"DataFrame.*not a list of inputs"):
        pylo.start_from_scratch(future, _double, progress=False)
    assert pylo.executions() == []


def test_futures_on_threads_are_refused(tmp_path: Path, dask_client: Any) -> None:
    pylo = Pylo.local_multithread(tmp_path, 2)
    futures = dask_client.map(_inc, range(3))
    with pytest.raises(InvalidArgument, match=r"Dask futures as inputs need Pylo\.dask.*client\.gather"):
        pylo.start_from_scratch(futures, _double, progress=False)
    with pytest.raises(InvalidArgument, match=r"a Dask future as inputs"):
        pylo.start_from_scratch(futures[0], _double, progress=False)
    assert pylo.executions() == []


def test_futures_in_a_stream_are_refused(tmp_path: Path, dask_client: Any) -> None:
    pylo = Pylo.dask(dask_client, tmp_path)
    futures = dask_client.map(_inc, range(3))
    with pytest.raises(InvalidArgument, match=r"input 0 is a Dask future"):
        pylo.start_from_scratch((f for f in futures), _double, progress=False)
    assert pylo.executions() == []


@pytest.mark.parametrize("inputs", [42, None])
def test_what_is_not_iterable_is_still_said_so_once_distributed_is_imported(tmp_path: Path, inputs: Any) -> None:
    import distributed  # noqa: F401  (futures could exist: streams are checked for them)

    with pytest.raises(InvalidArgument, match="inputs must be iterable"):
        Pylo.local_multithread(tmp_path, 1).submit(inputs, _double)
