"""Jobs around other programs: ``SubprocessJob`` (a shell command) and ``WebappJob`` (a server
on an ip and port, from a command template or a function)."""

from __future__ import annotations

import functools
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..errors import InvalidArgument
from ._job import Job, ProcessJob, Runtime
from ._outcome import Outcome

__all__ = ["SubprocessJob", "WebAppJob", "WebappJob", "finish_off"]

# Seconds a cancelled command has between SIGTERM and SIGKILL.
KILL_GRACE = 3.0


class SubprocessJob(Job):
    """Runs ``cmd`` (a string for the shell, or an argument list) in its own process group, in
    ``cwd`` with ``env`` (nothing process-wide changes). The result is a
    ``subprocess.CompletedProcess`` (with ``stdout``/``stderr`` when ``capture_output``); a
    non-zero exit, a kill by a signal included, fails the job with ``CalledProcessError``.
    Cancelling it terminates the whole process group."""

    kind = "subprocess"

    def __init__(
        self,
        cmd: str | Sequence[str],
        *,
        cwd: str | os.PathLike[str] | None = None,
        env: dict[str, str] | None = None,
        capture_output: bool = False,
        **options: Any,
    ) -> None:
        if not isinstance(cmd, str) and not (isinstance(cmd, Sequence) and cmd and all(isinstance(c, str) for c in cmd)):
            raise InvalidArgument(f"cmd must be a string or a list of strings, got {cmd!r}")
        self.cmd: str | list[str] = cmd if isinstance(cmd, str) else list(cmd)
        self.cwd, self.env, self.capture_output = cwd, env, capture_output
        options.setdefault("name", (cmd.split() or ["subprocess"])[0] if isinstance(cmd, str) else cmd[0])
        super().__init__(functools.partial(_run_command, self.cmd, cwd, env, capture_output), **options)

    def _spec(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        _, options = super()._spec()
        return (self.cmd,), {**options, "cwd": self.cwd, "env": self.env, "capture_output": self.capture_output}

    def _begin(self, rt: Runtime, call: Callable[[], Any], token: int) -> None:
        proc = _popen(self.cmd, self.cwd, self.env, self.capture_output)
        self._handle = proc
        threading.Thread(
            target=_reap, args=(proc, self.cmd, functools.partial(rt.report, self, token)),
            name="pylo-engine-subprocess", daemon=True,
        ).start()

    def _stop(self, rt: Runtime) -> None:
        proc = self._handle
        if isinstance(proc, subprocess.Popen) and proc.poll() is None:
            _signal_group(proc, signal.SIGTERM)
            # the whole group, even once its leader is gone: a shell dies of the SIGTERM while
            # the program it started may ignore it
            rt.loop.call_later(KILL_GRACE, _signal_group, proc, signal.SIGKILL)


def _popen(cmd: str | list[str], cwd: Any, env: dict[str, str] | None, capture: bool) -> subprocess.Popen[bytes]:
    pipe = subprocess.PIPE if capture else None
    return subprocess.Popen(
        cmd, shell=isinstance(cmd, str), cwd=cwd, env=env, stdout=pipe, stderr=pipe, start_new_session=True
    )


def _reap(proc: subprocess.Popen[bytes], cmd: Any, report: Callable[[Outcome], None]) -> None:
    out, err = proc.communicate()
    report(_completed(proc.returncode, cmd, out, err))


def _completed(code: int, cmd: Any, out: Any, err: Any) -> Outcome:
    if code != 0:
        return Outcome("failed", subprocess.CalledProcessError(code, cmd, out, err))
    return Outcome("done", subprocess.CompletedProcess(cmd, code, out, err))


def _run_command(cmd: str | list[str], cwd: Any, env: dict[str, str] | None, capture: bool) -> Any:
    """The same command, run synchronously (what the job's ``func`` does if called directly)."""
    proc = _popen(cmd, cwd, env, capture)
    out, err = proc.communicate()
    outcome = _completed(proc.returncode, cmd, out, err)
    if outcome.status == "failed":
        raise outcome.value
    return outcome.value


def _signal_group(proc: subprocess.Popen[Any], sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _group_alive(proc: subprocess.Popen[Any]) -> bool:
    """Whether ``proc``'s process group still has a member (the shell leading it may be gone
    while the program it started runs on)."""
    try:
        os.killpg(proc.pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def finish_off(handles: Iterable[object], grace: float = KILL_GRACE) -> None:
    """Give the commands among ``handles`` (job handles; those that are not ``Popen`` are
    skipped), already sent SIGTERM, ``grace`` seconds in all to exit, then SIGKILL the groups
    still running. Blocks the caller: for ``Engine.stop()``, whose loop, and with it the SIGKILL
    timer of ``_stop``, is about to end. The members of a group are not our children, so their
    end is polled (every 20 ms, within the grace period); one that exited but is not reaped yet
    still counts, so orphans that init reaps slowly make this wait longer, never past ``grace``."""
    deadline = time.monotonic() + grace
    procs = [h for h in handles if isinstance(h, subprocess.Popen)]
    pause = threading.Event()
    while (procs := [p for p in procs if _group_alive(p)]) and time.monotonic() < deadline:
        pause.wait(0.02)
    for proc in procs:
        _signal_group(proc, signal.SIGKILL)


def free_port(ip: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((ip, 0))
        return int(s.getsockname()[1])


class WebappJob(ProcessJob):
    """A web server: ``target`` is a command template with ``{ip}`` and ``{port}``, run like a
    ``SubprocessJob``, or a function called as ``target(ip=ip, port=port)`` in the process pool.
    ``port=None`` picks a free port (read it from ``job.port``). Cancel it to stop the server."""

    kind = "webapp"

    def __init__(self, target: str | Callable[..., Any], ip: str = "127.0.0.1", port: int | None = None, **options: Any) -> None:
        self.ip = ip
        self.port = port or free_port(ip)
        self.target = target
        self.cwd, self.env, self.capture_output = None, None, False  # what SubprocessJob._begin reads
        if isinstance(target, str):
            self.cmd: str | None = target.format(ip=self.ip, port=self.port)
            options.setdefault("name", (self.cmd.split() or ["webapp"])[0])
            func: Callable[..., Any] = functools.partial(_run_command, self.cmd, None, None, False)
        elif callable(target):
            self.cmd = None
            func = functools.partial(target, ip=self.ip, port=self.port)
            options.setdefault("name", getattr(target, "__name__", "webapp"))
        else:
            raise InvalidArgument(f"target must be a command template or a callable, got {target!r}")
        super().__init__(func, **options)

    def _spec(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        _, options = super()._spec()
        return (self.target, self.ip, self.port), options

    def _begin(self, rt: Runtime, call: Callable[[], Any], token: int) -> None:
        if self.cmd is None:
            super()._begin(rt, call, token)
        else:
            SubprocessJob._begin(self, rt, call, token)  # type: ignore[arg-type]

    def _stop(self, rt: Runtime) -> None:
        if self.cmd is None:
            super()._stop(rt)
        else:
            SubprocessJob._stop(self, rt)  # type: ignore[arg-type]


WebAppJob = WebappJob  # the seed's other spelling
