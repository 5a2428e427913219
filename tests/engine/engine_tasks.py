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


def count_up(n: int) -> Any:
    """A generator job: yields 0..n-1."""
    yield from range(n)


def running_sum() -> Any:
    """A generator job driven by ``send``: yields the sum of what it was sent."""
    total = 0
    while True:
        total += yield total


def count_then_fail(n: int) -> Any:
    yield from range(n)
    raise KeyError("after the values")


async def async_count_up(n: int) -> Any:
    for i in range(n):
        yield i


async def async_add(a: int, b: int) -> int:
    return a + b


def shout(text: str) -> str:
    """Write to stdout and stderr, through Python and straight to the file descriptors."""
    import sys

    print(f"out:{text}")
    print(f"err:{text}", file=sys.stderr)
    sys.stdout.flush()
    os.write(1, f"fd1:{text}\n".encode())
    return text


def write_here(name: str) -> str:
    with open(name, "w") as fh:
        fh.write("here")
    return os.getcwd()


def leave(code: int) -> None:
    import sys

    sys.exit(code)


def serve_elsewhere(ip: str, port: int) -> None:
    """A server that listens on the wrong port."""
    from http.server import HTTPServer, SimpleHTTPRequestHandler

    HTTPServer((ip, port + 1 if port < 65535 else port - 1), SimpleHTTPRequestHandler).serve_forever()


def serve(ip: str, port: int) -> None:
    from http.server import HTTPServer, SimpleHTTPRequestHandler

    HTTPServer((ip, port), SimpleHTTPRequestHandler).serve_forever()


def serve_sharing_port(ip: str, port: int) -> None:
    """A web server that binds with ``SO_REUSEPORT``: it can take a port that a test holds bound
    (see ``engine_helpers.reserved_port``), which no other program can take in the meantime."""
    import socket
    from http.server import HTTPServer, SimpleHTTPRequestHandler

    class SharingServer(HTTPServer):
        def server_bind(self) -> None:
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            super().server_bind()

    SharingServer((ip, port), SimpleHTTPRequestHandler).serve_forever()


if __name__ == "__main__":  # as a command: python engine_tasks.py IP PORT
    import sys

    serve_sharing_port(sys.argv[1], int(sys.argv[2]))
