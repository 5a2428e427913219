"""Tasks that let a fault test act at a known point: they log each call (``tasks.log_call``), then
stop at a *gate* (and wait there to be killed) or kill their own process. Registered to pickle by
value, so Dask worker processes run them without importing the tests."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Collection
from typing import Any

GATE_WAIT = 90.0  # seconds a gated task waits for the test to act before giving up


def _log(log_dir: str, x: Any) -> None:
    with open(os.path.join(log_dir, f"calls-{os.getpid()}.log"), "a") as fh:
        fh.write(f"{x}\n")


def _first_time(path: str) -> bool:
    """Create ``path`` holding this process's pid, atomically; False when it already exists."""
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as fh:
        fh.write(str(os.getpid()))
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp)
    return True


def gated(log_dir: str, gate_dir: str, gates: Collection[int], x: int) -> None:
    """Log the call; the first time an input in ``gates`` runs, write ``gate-{x}`` (this process's
    pid) and wait for ``open-{x}`` — the test kills this process instead, or opens the gate."""
    _log(log_dir, x)
    if x in gates and _first_time(os.path.join(gate_dir, f"gate-{x}")):
        deadline = time.monotonic() + GATE_WAIT
        while not os.path.exists(os.path.join(gate_dir, f"open-{x}")):  # the test acts meanwhile
            if time.monotonic() > deadline:
                raise TimeoutError(f"gate {x} was never opened")
            time.sleep(0.01)


def kills_its_worker(log_dir: str, killer: int, x: int) -> None:
    """Log the call; input ``killer`` SIGKILLs the process running it, every time."""
    _log(log_dir, x)
    if x == killer:
        os.kill(os.getpid(), signal.SIGKILL)


def big_then_kills(log_dir: str, big: Collection[int], killer: int, size: int, x: int) -> bytes:
    """Log the call; the inputs in ``big`` return ``size`` bytes (with ``store_results`` their
    flush takes a while to write), input ``killer`` SIGKILLs the process running it, every time."""
    kills_its_worker(log_dir, killer, x)
    return b"x" * size if x in big else b""


def interrupts(log_dir: str, at: int, kind: str, x: int) -> None:
    """Log the call; input ``at`` raises ``KeyboardInterrupt`` or ``SystemExit``."""
    _log(log_dir, x)
    if x == at:
        raise KeyboardInterrupt("from the task") if kind == "KeyboardInterrupt" else SystemExit(3)


def hangs(release: Any, hung: Collection[int], x: int) -> None:
    """Input in ``hung`` blocks until ``release`` (a threading.Event) is set."""
    if x in hung:
        release.wait(60)


def needs_dask_worker(x: int) -> None:
    """Fails unless it runs inside a Dask task (``get_worker()`` finds its worker)."""
    from distributed import get_worker

    get_worker()


def kills_then_gated(log_dir: str, gate_dir: str, killer: int, gates: Collection[int], x: int) -> None:
    """``kills_its_worker`` at ``killer``, then ``gated`` at ``gates``."""
    if x == killer:
        kills_its_worker(log_dir, killer, x)
    gated(log_dir, gate_dir, gates, x)


def forks(store_dir: str, x: int) -> None:
    """Input 3 forks; the child leaves at once with ``sys.exit(0)`` (as a task using a forking
    library's subprocess would), the parent waits for it and goes on. Input 4 fails if the child
    wrote a claim release or a worker outcome meanwhile (the parent's run is still going)."""
    import glob
    import sys

    if x == 3:
        pid = os.fork()
        if pid == 0:
            sys.exit(0)
        os.waitpid(pid, 0)
    if x == 4:
        leaked = glob.glob(f"{store_dir}/*/claims/*.released") + glob.glob(f"{store_dir}/*/workers/*.json")
        if leaked:
            raise RuntimeError(f"the forked child wrote {leaked}")


def fails_loudly(size: int, x: int) -> None:
    """Fails with a message of ``size`` characters."""
    raise ValueError("x" * size)


def gated_with_payload(payload: bytes, log_dir: str, gate_dir: str, gates: Collection[int], x: int) -> None:
    """``gated``, as a task whose closure carries ``payload``."""
    gated(log_dir, gate_dir, gates, x)


def timed(log_dir: str, seconds: float, x: int) -> None:
    """Log the call with the wall-clock time it started, then work for ``seconds`` (a slow task)."""
    with open(os.path.join(log_dir, f"starts-{os.getpid()}.log"), "a") as fh:
        fh.write(f"{x} {time.time()!r}\n")
    time.sleep(seconds)


def last_start(log_dir: str) -> float:
    """The wall-clock time the last ``timed`` call started (0 when none did)."""
    times = [0.0]
    for name in os.listdir(log_dir):
        if name.startswith("starts-"):
            with open(os.path.join(log_dir, name)) as fh:
                times += [float(line.split()[1]) for line in fh]
    return max(times)


def exits_at(log_dir: str, killer: int, x: int) -> None:
    """Log the call; input ``killer`` ends the process running it with ``os._exit(1)``, every time
    (as a crashing C extension would: no exception, no cleanup)."""
    _log(log_dir, x)
    if x == killer:
        os._exit(1)


def grows_at(log_dir: str, hog: int, x: int) -> None:
    """Log the call; input ``hog`` allocates (and writes) memory until its process is killed,
    2 GiB at most (then it raises: the worker's memory limit never came)."""
    _log(log_dir, x)
    if x == hog:
        held = []
        for _ in range(80):
            held.append(b"x" * (25 << 20))
        raise MemoryError(f"allocated {len(held) * 25} MiB and was not killed")
