"""A job's own output files and working directory, without changing them for the whole process.

    own process (ProcessJob):  the job's worker process runs one job at a time, so its file
                               descriptors 1 and 2 and its working directory are the job's: they
                               are pointed at the job's files / folder for the call, then restored
    shared process (Local, Thread): ``sys.stdout``/``sys.stderr`` become, once, streams that send
                               each write to the file of the job running in the writing thread
                               (a context variable), and to the original stream otherwise; two
                               thread jobs at once each capture only their own output

A failing job's traceback is written to its stderr file too.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import inspect
import os
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from typing import Any, TextIO

__all__ = ["InJobIO", "routed_output"]

_target: contextvars.ContextVar[tuple[TextIO, TextIO] | None] = contextvars.ContextVar("pylo_job_output", default=None)
_install = threading.Lock()


class _Routed:
    """Stands for ``sys.stdout`` or ``sys.stderr``: writes go to the current job's file."""

    def __init__(self, original: TextIO, index: int) -> None:
        self._original, self._index = original, index

    def _stream(self) -> TextIO:
        target = _target.get()
        return self._original if target is None else target[self._index]

    def write(self, text: str) -> int:
        return self._stream().write(text)

    def flush(self) -> None:
        self._stream().flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream(), name)


def _routing() -> None:
    with _install:
        if not isinstance(sys.stdout, _Routed):
            sys.stdout = _Routed(sys.stdout, 0)
        if not isinstance(sys.stderr, _Routed):
            sys.stderr = _Routed(sys.stderr, 1)


@contextlib.contextmanager
def routed_output(out: TextIO, err: TextIO) -> Iterator[None]:
    """Send what this thread (or task) writes to ``sys.stdout``/``sys.stderr`` to ``out``/``err``."""
    _routing()
    token = _target.set((out, err))
    try:
        yield
    finally:
        _target.reset(token)


@contextlib.contextmanager
def _descriptors(out: TextIO, err: TextIO) -> Iterator[None]:
    """Point file descriptors 1 and 2 of this (single-job) process at ``out`` and ``err``."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)


@contextlib.contextmanager
def _directory(path: str) -> Iterator[None]:
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


@dataclasses.dataclass(frozen=True)
class InJobIO:
    """``call`` with the job's output files and working directory (see the module docstring);
    picklable, so it travels to a worker process as it is."""

    call: Callable[[], Any]
    stdout: str | None
    stderr: str | None
    cwd: str | None
    own_process: bool
    on_loop: bool = False  # a LocalJob: a coroutine is handed back to be awaited on the loop

    def __call__(self) -> Any:
        with contextlib.ExitStack() as stack:
            err: TextIO | None = None
            if self.stdout is not None and self.stderr is not None:
                out = stack.enter_context(_open(self.stdout))
                err = out if self.stderr == self.stdout else stack.enter_context(_open(self.stderr))
                stack.enter_context(_descriptors(out, err) if self.own_process else routed_output(out, err))
            if self.cwd is not None:
                stack.enter_context(_directory(self.cwd))
            try:
                value = self.call()
                if inspect.iscoroutine(value):
                    if self.on_loop:  # calling an async function ran none of its code yet
                        return self._awaited(value)
                    value = asyncio.run(value)
                return value
            except BaseException:
                if err is not None:
                    err.write(traceback.format_exc())
                raise


    async def _awaited(self, coro: Any) -> Any:
        """Await a local job's coroutine with its output routed (a task has its own context)."""
        with contextlib.ExitStack() as stack:
            err: TextIO | None = None
            if self.stdout is not None and self.stderr is not None:
                out = stack.enter_context(_open(self.stdout))
                err = out if self.stderr == self.stdout else stack.enter_context(_open(self.stderr))
                stack.enter_context(routed_output(out, err))
            try:
                return await coro
            except BaseException:
                if err is not None:
                    err.write(traceback.format_exc())
                raise


def _open(path: str) -> TextIO:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    return open(path, "a", buffering=1)  # noqa: SIM115 - closed by the ExitStack


