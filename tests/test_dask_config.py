"""Execution options from the Dask config: the ``pylo:`` section of its YAML files and the
``DASK_PYLO__…`` environment variables, the arguments a user passes winning."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import dask.config
import pytest

from pylo import Pylo
from pylo.errors import InvalidArgument


def test_options_come_from_the_dask_config(tmp_path: Path) -> None:
    settings = {"pylo.store": str(tmp_path), "pylo.block-size": 3, "pylo.retries": 2, "pylo.flush-interval": 0.5,
                "pylo.max-worker-failures": 7, "pylo.number-of-workers": 2, "pylo.store-results": True}
    with dask.config.set(settings):
        pylo = Pylo.local_multithread()
    assert pylo.store.url == str(tmp_path)
    c = pylo.config
    assert (c.block_size, c.retries, c.flush_interval, c.max_worker_failures, c.number_of_workers, c.store_results) \
        == (3, 2, 0.5, 7, 2, True)


def test_arguments_win_over_the_dask_config(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    with dask.config.set({"pylo.store": str(tmp_path), "pylo.block-size": 3, "pylo.max-worker-failures": 7,
                          "pylo.store-exceptions": True}):
        pylo = Pylo.local_multithread(elsewhere, max_worker_failures=0, store_exceptions=False, block_size=50)
    assert pylo.store.url == str(elsewhere)
    assert (pylo.config.block_size, pylo.config.max_worker_failures, pylo.config.store_exceptions) == (50, 0, False)


def test_without_config_the_defaults_hold(tmp_path: Path) -> None:
    pylo = Pylo.local_multithread(tmp_path)
    assert (pylo.config.block_size, pylo.config.max_worker_failures, pylo.config.task_executions_before_flush,
            pylo.config.store_exceptions) == (10_000, 1000, 1000, True)


def test_a_bad_config_value_names_its_key(tmp_path: Path) -> None:
    with dask.config.set({"pylo.block-size": "big"}), \
            pytest.raises(InvalidArgument, match=r"block_size must be an int.*Dask config: pylo\.block-size"):
        Pylo.local_multithread(tmp_path)


def test_no_store_anywhere_says_how_to_give_one() -> None:
    with pytest.raises(InvalidArgument, match=r"store must be a path.*got None.*pylo\.store"):
        Pylo.local_multithread()


def test_dask_constructor_reads_the_same_section(tmp_path: Path, dask_client: Any) -> None:
    with dask.config.set({"pylo.store": str(tmp_path), "pylo.block-size": 4, "pylo.retries": 1}):
        pylo = Pylo.dask(dask_client)
    assert (pylo.store.url, pylo.config.block_size, pylo.config.retries) == (str(tmp_path), 4, 1)


def test_environment_variables_of_a_users_script(tmp_path: Path) -> None:
    """A script run as a user runs it, with the options in the environment."""
    script = textwrap.dedent("""
        from pylo import Pylo
        def task(x):
            if x == 2:
                raise ValueError(x)
        if __name__ == "__main__":
            pylo = Pylo.local_multithread()
            eid = pylo.start_from_scratch(range(10), task, progress=False)
            print(eid)
    """)
    (tmp_path / "job.py").write_text(script)
    store = tmp_path / "store"
    env = {**os.environ, "DASK_PYLO__STORE": str(store), "DASK_PYLO__BLOCK_SIZE": "4", "DASK_PYLO__RETRIES": "1"}
    out = subprocess.run([sys.executable, "job.py"], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=90, check=True)
    eid = out.stdout.split()[-1]
    manifest = json.loads((store / eid / "execution.json").read_text())
    assert manifest["config"]["block_size"] == 4
    assert max(b[1] for b in manifest["blocks"]) <= 4
    assert manifest["config"]["retries"] == 1
    assert len(Pylo.local_multithread(store).get_exceptions(eid)) == 2  # the retry ran: two failed attempts
