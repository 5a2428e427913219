"""The main job of ``pylo demo``: 10,000 inputs on an embedded local Dask cluster and a local
store, a task with a bug that fails some of them, a summary, a resume with the fixed task, and
the final state."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from collections.abc import Callable
from typing import Any

from ..execution import Pylo

N_INPUTS = 10_000


def flaky_square(x: int) -> None:
    """The task as first written: it chokes on multiples of 37."""
    if x % 37 == 0:
        raise ZeroDivisionError(f"cannot handle {x}: divided by zero")
    _ = x * x


def fixed_square(x: int) -> None:
    """The same task, bug fixed."""
    _ = x * x


def run_demo(store: str, *, echo: Callable[[str], Any] = print, n_inputs: int = N_INPUTS, n_workers: int = 2) -> int:
    """Run, inspect, resume; return the number of inputs left unfinished (0 when all is well)."""
    from ..backends._dask import local_client

    with local_client(n_workers) as client, Pylo.dask(client, store) as pylo:
        echo(f"store: {pylo.store.url}   cluster: {n_workers} Dask worker processes")
        echo(f"\n1. run a task over {n_inputs:,} inputs; it fails on some of them")
        eid = pylo.start_from_scratch(range(n_inputs), flaky_square)
        echo(str(pylo.summary(eid)))  # its last line counts the exception types
        first = pylo.get_exceptions(eid)[0]
        echo(f"   e.g. input {first.input!r}: {first.type}: {first.message}")
        echo(f"\n2. fix the task and resume: only the unfinished inputs run again\n   pylo.start_from_past_execution({eid!r}, fixed_square)")
        new = pylo.start_from_past_execution(eid, fixed_square)
        summary = pylo.summary(new)
        echo(str(summary))
        finished, unfinished = pylo.get_state(new)
        echo(f"\n3. final state: {len(finished):,} finished, {len(unfinished):,} unfinished")
        command, store = pylo_command(), shlex.quote(pylo.store.url)
        echo(f"   inspect them later with: {command} ls {store}")
        echo(f"{'':28}{command} exceptions {store} {eid}")
        echo(f"{'':28}{command} status {store} {new}")
        return len(unfinished)


def pylo_command() -> str:
    """The CLI as the user can type it here: ``pylo`` when that is on PATH and is this one,
    else the script beside this interpreter (``.venv/bin/pylo`` after ``make demo``), else
    ``python -m pylo`` with this interpreter."""
    beside = os.path.join(os.path.dirname(sys.executable), "pylo")
    on_path = shutil.which("pylo")
    if not os.path.exists(beside):
        return f"{shlex.quote(sys.executable)} -m pylo"
    if on_path and os.path.samefile(on_path, beside):
        return "pylo"
    relative = os.path.relpath(beside)
    return shlex.quote(beside if relative.startswith("..") else relative)
