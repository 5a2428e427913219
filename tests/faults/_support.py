"""Support for the fault tests: bounded waits on files and processes, a TCP proxy that can be cut,
and a ledger of what the faults cost (read by the session summary in conftest.py)."""

from __future__ import annotations

import dataclasses
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tasks

TESTS = Path(__file__).resolve().parent.parent


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = 60.0, poll: float = 0.02) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds.

    A bounded wait *on a condition* (a file appears, a process ends), never a sleep that lets
    things happen: it returns as soon as the condition holds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(poll)



def read_when_written(path: Path, timeout: float = 60.0) -> str:
    """The text of ``path`` once a client process has written it (it writes, then renames)."""
    wait_for(path.exists, f"{path.name} to be written", timeout=timeout)
    return path.read_text()


def read_pid(path: Path) -> int:
    return int(path.read_text().strip())


def kill_group(proc: subprocess.Popen[Any]) -> None:
    """SIGKILL a process started with ``start_new_session=True`` and everything it started."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(30)


def python(script: str, *args: str, **popen: Any) -> subprocess.Popen[bytes]:
    """Run ``tests/faults/{script}`` in a fresh interpreter, in its own process group."""
    path = [str(TESTS), str(TESTS / "faults"), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path))
    return subprocess.Popen(
        [sys.executable, str(TESTS / "faults" / script), *args], env=env, start_new_session=True, **popen
    )


@dataclasses.dataclass
class GatedClient:
    """A pylo client on threads in its own process, held at its gate (see _threads_client.py)."""

    proc: subprocess.Popen[bytes]
    store: str
    calls: Path
    gates: Path
    eid: str

    gate_at: tuple[int, ...] = (5,)

    def open_gate(self) -> None:
        for x in self.gate_at:
            (self.gates / f"open-{x}").touch()


GATE = 5  # the input a gated client holds


def start_gated_client(tmp_path: Path, n: int, also: tuple[int, ...] = ()) -> GatedClient:
    """Start ``_threads_client.py`` over ``range(n)``; return once input GATE waits at its gate
    and the client has written its execution id."""
    calls, gates = tmp_path / "calls", tmp_path / "gates"
    calls.mkdir(), gates.mkdir()
    gate_at = (GATE, *also)
    spec = {"store": str(tmp_path / "s"), "calls": str(calls), "gates": str(gates), "gate_at": list(gate_at),
            "n": n, "id_file": str(tmp_path / "id")}
    proc = python("_threads_client.py", json.dumps(spec))
    try:
        for x in gate_at:
            wait_for(lambda x=x: (gates / f"gate-{x}").exists(), f"input {x} to reach its gate")
        eid = read_when_written(tmp_path / "id")
    except BaseException:
        kill_group(proc)
        raise
    return GatedClient(proc, spec["store"], calls, gates, eid, gate_at)


def reruns(log_dir: Path) -> dict[str, int]:
    """Inputs that ran more than once, with their call counts (from ``tasks.log_call`` logs)."""
    return {x: n for x, n in tasks.count_calls(str(log_dir)).items() if n > 1}


# -- a TCP proxy that can be cut and restored on the same port --------------------------------


class TcpProxy:
    """Forwards 127.0.0.1:``port`` to ``target``. ``stop()`` closes the listening socket and every
    open connection (clients get refused or reset); ``start()`` listens again on the same port."""

    def __init__(self, target_port: int, port: int = 0) -> None:
        self.target = ("127.0.0.1", target_port)
        self.port = port
        self._server: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(64)
        self.port = server.getsockname()[1]
        self._server = server
        self._stopping.clear()
        self._thread = threading.Thread(target=self._accept, args=(server,), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        with self._lock:
            conns, self._conns = self._conns, set()
        for conn in conns:
            _close(conn)

    def _accept(self, server: socket.socket) -> None:
        sel = selectors.DefaultSelector()
        sel.register(server, selectors.EVENT_READ)
        while not self._stopping.is_set():
            if not sel.select(timeout=0.05):
                continue
            try:
                client, _ = server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._conns.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()
        sel.close()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            _close(src)
            _close(dst)
            with self._lock:
                self._conns.discard(src)
                self._conns.discard(dst)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


# -- what the faults cost, for the session summary ---------------------------------------------


@dataclasses.dataclass
class Ledger:
    """Filled by the fault tests: inputs lost, and each re-run count against its bound."""

    lost: int = 0
    reruns: list[tuple[str, int, int]] = dataclasses.field(default_factory=list)

    def record(self, test: str, *, lost: int, rerun: int, bound: int) -> None:
        self.lost += lost
        self.reruns.append((test, rerun, bound))


LEDGER = Ledger()


def wait_flushed(store: Any, eid: str, x: int, flush: int, block_size: int) -> None:
    """Wait until the flushes of input ``x``'s block (of its pack) that come before ``x`` are in the store.

    Flushes are written in the background: waiting for them makes the point of a kill exact —
    what is lost is then the attempts since the last flush, at most one window of ``flush``."""
    manifest = store.read_manifest(eid)
    info = next(b for b in manifest.blocks if x in b.positions)
    start = info.stored_span.start  # the blocks of a pack run as one: their windows count from its start
    done = set(range(start, start + (x - start) // flush * flush))
    run = [b for b in manifest.blocks if b.inputs_object == info.inputs_object and b.start <= x]

    def flushed() -> set[int]:
        return set().union(*(store.read_block_state(eid, b).finished for b in run))

    wait_for(lambda: done <= flushed(), f"the flushes before input {x}")


def alive(pid: int) -> bool:
    """Whether process ``pid`` still exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
