"""The progress bar of the blocking calls (``start_from_scratch``, ``start_from_past_execution``).

    worker flush ──► Run.on_delta ──► listener: ProgressBar.update(progress) ──► tqdm
                                                  (finished + failed of total, rate)

``tqdm.auto`` picks a widget in Jupyter (when ipywidgets is installed) and text elsewhere. On a
terminal the text bar goes to stderr; when stderr is not a terminal (a CI log, a pipe) it stays
hidden, as tqdm does with ``disable=None``. The library itself never prints.
"""

from __future__ import annotations

import collections
import contextlib
import importlib.util
import sys
import threading
import warnings
from collections.abc import Iterator
from typing import IO, Any

from .._core.run import Progress, Run
from .._numbers import count

__all__ = ["ProgressBar", "follow"]


def _in_notebook() -> bool:
    """True inside a Jupyter kernel, where stderr is not a terminal but a bar is wanted."""
    shell = sys.modules.get("ipykernel.zmqshell")
    ipython = sys.modules.get("IPython")
    if shell is None or ipython is None:
        return False
    get = getattr(ipython, "get_ipython", None)
    return get is not None and isinstance(get(), shell.ZMQInteractiveShell)


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream: no bar
        return False


def dashboard_worth_showing(link: str | None) -> str | None:
    """The Dask dashboard link, when bokeh is here to serve its pages (without it the link
    leads to a page that says bokeh is missing)."""
    if not link or importlib.util.find_spec("bokeh") is None:
        return None
    return link


def _bar_class() -> Any:
    with warnings.catch_warnings():
        # In Jupyter without ipywidgets, tqdm.auto warns and falls back to the text bar: fine.
        warnings.simplefilter("ignore")
        from tqdm.auto import tqdm
    return tqdm


#: tqdm's default layout, with the counts written as everywhere else (198,032/200,000).
_BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n:,}/{total:,} [{elapsed}<{remaining}, {rate_fmt}{postfix}]"


class ProgressBar:
    """A tqdm bar that follows a run: its position is the inputs concluded (finished or failed),
    its postfix the finished and failed counts; tqdm adds the rate and the time left."""

    def __init__(self, run: Run, *, dashboard: str | None = None, file: IO[str] | None = None, force: bool = False) -> None:
        self._lock = threading.Lock()
        self._closed = False
        stream = file or sys.stderr
        visible = force or _in_notebook() or _isatty(stream)
        if visible and dashboard:
            stream.write(f"pylo {run.id}: Dask dashboard at {dashboard}\n")
        self._bar = _bar_class()(
            total=run.total, desc=f"pylo …{run.id[-8:]}", unit=" inputs", file=file,
            disable=not visible, leave=True, dynamic_ncols=True, bar_format=_BAR_FORMAT,
        )
        self._run = run
        self._gave_up = 0
        run.add_listener(self.update)
        self.update(run.progress())

    @property
    def disabled(self) -> bool:
        return bool(self._bar.disable)

    def update(self, progress: Progress) -> None:
        """Move the bar to ``progress``; called from whichever thread reports a flush."""
        with self._lock:
            if self._closed:
                return
            self._move(progress)

    def _move(self, progress: Progress) -> None:
        concluded = progress.finished + progress.failed
        # Strings: tqdm would shorten numbers (20000 shows as "2e+4").
        counts = collections.OrderedDict(finished=count(progress.finished), failed=count(progress.failed))
        if self._gave_up:
            counts["gave_up"] = f"{self._gave_up} worker{'s' if self._gave_up > 1 else ''}"
        self._bar.set_postfix(counts, refresh=False)
        if concluded > self._bar.n:
            self._bar.update(concluded - self._bar.n)
        else:
            self._bar.refresh()

    def show_gave_up(self, workers: int) -> None:
        """Say on the bar that ``workers`` workers spent their failure budget."""
        with self._lock:
            self._gave_up = workers
            if not self._closed:
                self._move(self._run.progress())

    def close(self) -> None:
        """Show the final counts and close the bar; later flushes are ignored."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._move(self._run.progress())
            self._bar.close()


@contextlib.contextmanager
def follow(run: Run, *, enabled: bool = True, dashboard: str | None = None) -> Iterator[ProgressBar | None]:
    """Show a progress bar of ``run`` while the block runs (nothing when ``enabled`` is false);
    yields the bar (``None`` when disabled)."""
    if not enabled:
        yield None
        return
    bar = ProgressBar(run, dashboard=dashboard_worth_showing(dashboard))
    try:
        yield bar
    finally:
        bar.close()
