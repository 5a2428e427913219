"""A value per thread without ``threading.local``: on Python 3.11 the garbage collector freeing a
``threading.local`` while another thread runs ``sys._current_frames`` (Dask's profiler, every 10 ms
on each worker) deadlocks the interpreter (CPython gh-106883). A ``Pylo`` lives in reference
cycles, so the collector frees it; it must hold none."""

from __future__ import annotations

import gc
import threading
from pathlib import Path

from pylo import Pylo
from pylo._core.per_thread import PerThread


def test_each_thread_sees_its_own_value_and_clears_it() -> None:
    values: PerThread[str] = PerThread()
    values.set("main")
    seen: list[str | None] = []

    def other() -> None:
        seen.append(values.get())
        values.set("other")
        seen.append(values.get())
        values.set(None)
        seen.append(values.get())

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert seen == [None, "other", None] and values.get() == "main"


def test_the_values_of_ended_threads_are_let_go() -> None:
    values: PerThread[str] = PerThread()
    thread = threading.Thread(target=values.set, args=("ended",))
    thread.start()
    thread.join()
    values.set("main")
    assert list(values._values.values()) == ["main"]


def test_a_pylo_holds_no_thread_local(tmp_path: Path) -> None:
    pylo = Pylo.local_multithread(tmp_path, number_of_workers=1)
    pylo.start_from_scratch(range(3), abs, progress=False)
    held = [o for o in gc.get_referents(*gc.get_referents(pylo)) if isinstance(o, threading.local)]
    held += [o for o in gc.get_referents(pylo) if isinstance(o, threading.local)]
    assert held == []
