"""Tasks used by the tests. Registered to pickle by value (conftest), so Dask worker processes
can run them without importing the tests."""

from __future__ import annotations

import os
from typing import Any


def noop(x: Any) -> None:
    pass


def fail_multiples_of_7(x: int) -> None:
    if x % 7 == 0:
        raise ValueError(f"bad input {x}")


def always_fail(x: Any) -> None:
    raise RuntimeError(f"fails on {x!r}")


def fail_flagged(x: dict[str, Any]) -> None:
    if x.get("bad"):
        raise KeyError(x["name"])


def fail_first_attempt(marker_dir: str, x: int) -> None:
    """Fails the first time it sees ``x`` (a marker file remembers, across processes)."""
    path = os.path.join(marker_dir, f"seen-{x}")
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.close(fd)
    raise ConnectionError(f"transient failure on {x}")


def log_call(log_dir: str, x: Any) -> None:
    """Appends ``x`` to a per-process log: counts how often each input ran."""
    with open(os.path.join(log_dir, f"calls-{os.getpid()}.log"), "a") as fh:
        fh.write(f"{x}\n")


def count_calls(log_dir: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for name in os.listdir(log_dir):
        if name.startswith("calls-"):
            with open(os.path.join(log_dir, name)) as fh:
                for line in fh:
                    counts[line.strip()] = counts.get(line.strip(), 0) + 1
    return counts


class ErrorWithArgs(Exception):
    """Extra ``__init__`` arguments: pickles by default but only unpickles thanks to __reduce__."""

    def __init__(self, code: int, detail: str) -> None:
        super().__init__(f"code {code}: {detail}")
        self.code, self.detail = code, detail

    def __reduce__(self) -> Any:
        return (type(self), (self.code, self.detail))


class UnloadableError(Exception):
    """Pickles, but unpickling calls __init__ with the message only, which fails."""

    def __init__(self, code: int, detail: str) -> None:
        super().__init__(f"code {code}: {detail}")


class UnpicklableError(Exception):
    def __reduce__(self) -> Any:
        raise TypeError("this exception refuses to be pickled")


def raise_with_args(x: int) -> None:
    raise ErrorWithArgs(x, "with args")


def raise_unloadable(x: int) -> None:
    raise UnloadableError(x, "unloadable")


def raise_unpicklable(x: int) -> None:
    raise UnpicklableError(f"unpicklable {x}")


def wait_for_file(gate_dir: str, x: Any) -> None:
    """``"until:NAME"`` waits (at most 60 s) for the file ``gate_dir/NAME``; other inputs pass."""
    if isinstance(x, str) and x.startswith("until:"):
        import time

        path = os.path.join(gate_dir, x.split(":", 1)[1])
        deadline = time.monotonic() + 60
        while not os.path.exists(path) and time.monotonic() < deadline:
            time.sleep(0.005)


# -- results and reruns of some failures ------------------------------------------------------


class AppError(Exception):
    pass


class RetryableAppError(AppError):
    pass


def ten_times_failing_7(x: int) -> int:
    if x % 7 == 0:
        raise ValueError(f"bad input {x}")
    return 10 * x


def lock_on_3(x: int) -> Any:
    """Returns a value that cannot be pickled for input 3."""
    import threading

    return threading.Lock() if x == 3 else {"x": x}


def fail_kinds(x: int) -> str:
    """Different failures by input: what ``only=`` picks from."""
    if x % 15 == 0:
        raise RetryableAppError(f"retryable {x}")
    if x % 5 == 0:
        raise TimeoutError(f"slow {x}")
    if x % 3 == 0:
        raise ValueError(f"bad {x}")
    return f"ok {x}"


def ok_string(x: int) -> str:
    return f"fixed {x}"


# -- bags built on the workers -------------------------------------------------------------------


class ClientSide(Exception):
    pass


def _rebuild_guarded(value: Any, client_pid: int) -> Any:
    if os.getpid() == client_pid:
        raise ClientSide(f"input {value!r} was unpickled in the client process")
    return Guarded(value, client_pid)


class Guarded:
    """An input that refuses to be unpickled in the client's process: proves it never got there."""

    def __init__(self, value: Any, client_pid: int) -> None:
        self.value, self.client_pid = value, client_pid

    def __reduce__(self) -> Any:
        return (_rebuild_guarded, (self.value, self.client_pid))


def guarded_partition(client_pid: int, numbers: Any) -> list[Guarded]:
    return [Guarded(x, client_pid) for x in numbers]


def double_guarded(g: Guarded) -> int:
    if g.value % 7 == 0:
        raise ValueError(f"bad input {g.value}")
    return 2 * g.value


def partition_of_strings(numbers: Any) -> list[str]:
    return [f"s{x:05d}" for x in numbers]


def raise_in_partition_with(bad: int, numbers: Any) -> list[int]:
    numbers = list(numbers)
    if bad in numbers:
        raise RuntimeError(f"partition with {bad} cannot be computed")
    return numbers


def fail_s7(s: str) -> str:
    if int(s[1:]) % 7 == 0:
        raise ValueError(f"bad input {s}")
    return s.upper()


def ten_times_failing_1000(x: int) -> int:
    if x % 1000 == 0:
        raise ValueError(f"bad input {x}")
    return 10 * x


def block_results_dir_then_double(store: str, x: int) -> int:
    """On input 0, puts a file where the execution's results directory goes, so the first flush
    cannot write its results object (a real filesystem error, not a mock)."""
    if x == 0:
        import glob

        (manifest,) = glob.glob(os.path.join(store, "*", "execution.json"))
        with open(os.path.join(os.path.dirname(manifest), "results"), "w") as fh:
            fh.write("in the way")
    return 2 * x


def locks_in_partition_with(bad: int, numbers: Any) -> list[Any]:
    import threading

    return [threading.Lock() if x == bad else x for x in numbers]


def below_4(x: int) -> bool:
    return x < 4


def fail_from(first: int, x: int) -> None:
    """Inputs at and past ``first`` fail (a run whose inputs start failing midway)."""
    if x >= first:
        raise ValueError(f"input {x} fails")
