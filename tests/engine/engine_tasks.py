"""Job functions for the engine tests: importable by name (for re-submission after a restart)
and registered to pickle by value (conftest) so Dask worker processes can run them."""

from __future__ import annotations

import os
import time
from typing import Any


def add(a: int, b: int) -> int:
    return a + b


def boom(message: str = "boom") -> None:
    raise ValueError(message)


def wait_for_file(path: str, timeout: float = 60.0) -> str:
    """Block until ``path`` exists (a bounded wait on a file, across processes)."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise TimeoutError(path)
        time.sleep(0.01)
    return path


def write_pid_and_wait(pid_file: str, release_file: str) -> int:
    """Write this process's id to ``pid_file``, then block until ``release_file`` exists."""
    with open(pid_file + ".tmp", "w") as fh:
        fh.write(str(os.getpid()))
    os.replace(pid_file + ".tmp", pid_file)
    wait_for_file(release_file)
    return os.getpid()


def getpid() -> int:
    return os.getpid()


def touch(path: str) -> str:
    with open(path, "a"):
        pass
    return path


class Multiplier:
    """A callable object as a job function."""

    def __init__(self, factor: int) -> None:
        self.factor = factor

    def __call__(self, x: int) -> int:
        return x * self.factor


def identity(x: Any) -> Any:
    return x
