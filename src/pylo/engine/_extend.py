"""Jobs around other programs: ``SubprocessJob`` (a shell command) and ``WebappJob`` (a server
on an ip and port, from a command template or a function)."""

from __future__ import annotations

import dataclasses
import functools
import multiprocessing
import os
import shlex
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import cloudpickle

from ..errors import ArgumentTypeError, InvalidArgument
from ._checks import check_count, check_seconds
from ._job import Job, ProcessJob, Runtime, ThreadJob, callable_name
from ._outcome import Outcome, outcome_of

__all__ = ["Command", "SubprocessJob", "WebAppJob", "WebappJob", "answers", "finish_off", "free_port"]

# Seconds a cancelled command has between SIGTERM and SIGKILL.
KILL_GRACE = 3.0


class SubprocessJob(Job):
    """Runs the command ``cmd`` (a string for the shell, or an argument list) in its own process
    group; its result is the exit code, 0. A non-zero exit, a kill by a signal included, fails
    the job with ``subprocess.CalledProcessError``. Cancelling it terminates the whole group.

    As in executor-engine: ``target_dir`` is where it runs (``"$current_dir"``: the working
    directory when it starts; ``"$cache_dir"``: ``job.cache_dir``; or a path); ``record_cmd``
    writes the command to ``command.sh`` in ``job.cache_dir``; ``redirect_out_err`` sends its
    output to ``stdout.txt``/``stderr.txt`` there (or to one file, when a path); ``popen_kwargs``
    go to ``subprocess.Popen`` (``env``…); ``base_class`` (``ProcessJob``, ``DaskJob``,
    ``LocalJob``) runs the command from a job of that kind instead of from the engine itself.
    """

    kind = "subprocess"

    def __init__(
        self,
        cmd: str | Sequence[str],
        record_cmd: bool = True,
        base_class: type[Job] | None = None,
        *,
        target_dir: str | os.PathLike[str] = "$current_dir",
        popen_kwargs: dict[str, Any] | None = None,
        **options: Any,
    ) -> None:
        if not isinstance(cmd, str) and not (isinstance(cmd, Sequence) and cmd and all(isinstance(c, str) for c in cmd)):
            raise InvalidArgument(f"cmd must be a string or a list of strings, got {cmd!r}")
        if base_class is not None and (not isinstance(base_class, type) or not issubclass(base_class, Job) or issubclass(base_class, SubprocessJob)):
            raise InvalidArgument(f"base_class must be a job class (ProcessJob, DaskJob, LocalJob…), got {base_class!r}")
        if popen_kwargs is not None and not isinstance(popen_kwargs, dict):
            raise InvalidArgument(f"popen_kwargs must be a dict, got {popen_kwargs!r}")
        self.cmd: str | list[str] = cmd if isinstance(cmd, str) else list(cmd)
        self.record_cmd = bool(record_cmd)
        self.base_class = None if base_class is ThreadJob else base_class
        self.target_dir = os.fspath(target_dir)
        self.popen_kwargs = dict(popen_kwargs or {})
        options.setdefault("name", (cmd.split() or ["subprocess"])[0] if isinstance(cmd, str) else cmd[0])
        super().__init__(self._command, **options)

    def _repr_fields(self) -> list[tuple[str, Any]]:
        fields = super()._repr_fields()
        fields[2:3] = [("cmd", self.cmd), ("target_dir", self.target_dir),
                       ("base_class", (self.base_class or ThreadJob).__name__)]
        return fields

    def _spec(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (self.cmd, self.record_cmd, self.base_class), {
            **self._options(), "target_dir": self.target_dir, "popen_kwargs": self.popen_kwargs,
            "redirect_out_err": self.redirect_out_err,
        }

    def _command(self) -> Command:
        """The command as it runs now: its folder, output files and Popen arguments."""
        cwd = self.target_dir
        if cwd == "$current_dir":
            cwd = os.getcwd()
        elif cwd == "$cache_dir":
            cwd = str(self.cache_dir)
        out = err = None
        if self.redirect_out_err is not False:
            if isinstance(self.redirect_out_err, (str, os.PathLike)):
                out = err = os.path.abspath(os.fspath(self.redirect_out_err))
            else:
                folder = self.cache_dir
                assert folder is not None  # it runs: it was submitted, so it has an engine and a folder
                out, err = str(folder / "stdout.txt"), str(folder / "stderr.txt")
        if self.record_cmd and self.cache_dir is not None:
            text = self.cmd if isinstance(self.cmd, str) else shlex.join(self.cmd)
            (self.cache_dir / "command.sh").write_text(text + "\n")
        return Command(self.cmd, os.path.abspath(cwd), out, err, self.popen_kwargs)

    def _attempt_call(self, call: Callable[[], Any]) -> Callable[[], Any]:
        return self._command()  # the command takes care of its own output and folder

    def _begin(self, rt: Runtime, call: Callable[[], Any], token: int) -> Any:
        if self.base_class is not None:
            return self.base_class._begin(self, rt, call, token)
        assert isinstance(call, Command)
        proc = call.popen()
        threading.Thread(
            target=_reap, args=(proc, call, functools.partial(rt.report, self, token)),
            name="pylo-engine-subprocess", daemon=True,
        ).start()
        return proc

    def _stop(self, rt: Runtime, handle: Any) -> None:
        if self.base_class is not None:
            self.base_class._stop(self, rt, handle)
            return
        proc = handle
        if isinstance(proc, subprocess.Popen) and proc.poll() is None:
            _signal_group(proc, signal.SIGTERM)
            # the whole group, even once its leader is gone: a shell dies of the SIGTERM while
            # the program it started may ignore it
            rt.loop.call_later(KILL_GRACE, _signal_group, proc, signal.SIGKILL)


@dataclasses.dataclass(frozen=True)
class Command:
    """One run of a command: called, it runs it to its end (in whatever worker holds it) and
    returns the exit code, or raises ``CalledProcessError``."""

    cmd: str | list[str]
    cwd: str
    stdout: str | None
    stderr: str | None
    popen_kwargs: dict[str, Any]

    def popen(self) -> subprocess.Popen[bytes]:
        files = []
        try:
            out = err = None
            if self.stdout is not None and self.stderr is not None:
                os.makedirs(os.path.dirname(self.stdout), exist_ok=True)
                out = open(self.stdout, "ab")  # noqa: SIM115 - the child holds its copy; ours is closed below
                files.append(out)
                err = out if self.stderr == self.stdout else open(self.stderr, "ab")  # noqa: SIM115
                if err is not out:
                    files.append(err)
            kwargs = {"stdout": out, "stderr": err, **self.popen_kwargs, "cwd": self.cwd}
            return subprocess.Popen(self.cmd, shell=isinstance(self.cmd, str), start_new_session=True, **kwargs)
        finally:
            for f in files:
                f.close()

    def __call__(self) -> int:
        proc = self.popen()
        return _exit_code(proc.wait(), self.cmd)


def _reap(proc: subprocess.Popen[bytes], command: Command, report: Callable[[Outcome], None]) -> None:
    report(outcome_of(lambda: _exit_code(proc.wait(), command.cmd)))


def _exit_code(code: int, cmd: Any) -> int:
    if code != 0:
        raise subprocess.CalledProcessError(code, cmd)
    return code


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


def finish_off(handles: Iterable[object], grace: float | None = None) -> None:
    """Give the commands among ``handles`` (job handles; those that are not ``Popen`` are
    skipped), already sent SIGTERM, ``grace`` seconds in all to exit, then SIGKILL the groups
    still running. Blocks the caller: for ``Engine.stop()``, whose loop, and with it the SIGKILL
    timer of ``_stop``, is about to end. The members of a group are not our children, so their
    end is polled (every 20 ms, within the grace period); one that exited but is not reaped yet
    still counts, so orphans that init reaps slowly make this wait longer, never past ``grace``."""
    deadline = time.monotonic() + (KILL_GRACE if grace is None else grace)
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


def answers(ip: str, port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on ``ip:port``."""
    try:
        with socket.create_connection((ip, port), timeout=timeout):
            return True
    except OSError:
        return False


_LOCAL = ("127.0.0.1", "localhost", "0.0.0.0")


class WebappJob(Job):
    """A web server: ``web_launcher`` is a command template with ``{ip}`` and ``{port}``, run
    like a ``SubprocessJob``, or a function called as ``web_launcher(ip, port)`` in a process of
    its own. ``port=None`` picks a free port (read it from ``job.port``). Once started, the port
    is tried ``check_times`` times, ``check_delta`` seconds apart: if it never answers, the
    server is stopped and the job fails with ``OSError``. The job runs until the server exits;
    cancel it to stop the server. Only local addresses are supported (``NotImplementedError``
    otherwise); a template without ``{ip}``/``{port}`` is a ``ValueError``, a launcher neither a
    string nor callable a ``TypeError``."""

    kind = "webapp"

    def __init__(
        self,
        web_launcher: str | Callable[..., Any],
        ip: str = "127.0.0.1",
        port: int | None = None,
        base_class: type[Job] | None = None,
        check_times: int = 6,
        check_delta: float = 1.0,
        **options: Any,
    ) -> None:
        if ip not in _LOCAL:
            raise NotImplementedError(f"WebappJob runs servers on this machine only ({', '.join(_LOCAL)}), not {ip!r}")
        if isinstance(web_launcher, str):
            if "{ip}" not in web_launcher or "{port}" not in web_launcher:
                raise InvalidArgument(f"a web_launcher command needs {{ip}} and {{port}} placeholders, got {web_launcher!r}")
        elif not callable(web_launcher):
            raise ArgumentTypeError(f"web_launcher must be a command template or a callable, got {web_launcher!r}")
        check_count("check_times", check_times, minimum=1)
        if port is not None:
            check_count("port", port, minimum=1, maximum=65535)
        self.ip, self.port = ip, port or free_port(ip)
        self.web_launcher = self.target = web_launcher
        self.base_class = base_class
        self.check_times = check_times
        self.check_delta = check_seconds("check_delta", check_delta, positive=True)
        if isinstance(web_launcher, str):
            self.cmd: str | None = web_launcher.format(ip=self.ip, port=self.port)
            options.setdefault("name", (self.cmd.split() or ["webapp"])[0])
        else:
            self.cmd = None
            options.setdefault("name", callable_name(web_launcher))
        super().__init__(functools.partial(_serve_forever, web_launcher, self.ip, self.port), **options)

    def _repr_fields(self) -> list[tuple[str, Any]]:
        fields = super()._repr_fields()
        fields[2:3] = [("addr", f"{self.ip}:{self.port}"), ("base_class", (self.base_class or ProcessJob).__name__)]
        return fields

    def _spec(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (self.web_launcher, self.ip, self.port, self.base_class, self.check_times, self.check_delta), self._options()

    def _begin(self, rt: Runtime, call: Callable[[], Any], token: int) -> Any:
        if self.cmd is not None:
            server: Any = subprocess.Popen(self.cmd, shell=True, start_new_session=True)
        else:
            ctx = multiprocessing.get_context("spawn")
            server = ctx.Process(target=_run_pickled, args=(cloudpickle.dumps(call),), daemon=True)
            server.start()
        threading.Thread(
            target=self._watch, args=(server, functools.partial(rt.report, self, token)),
            name="pylo-engine-webapp", daemon=True,
        ).start()
        return server

    def _watch(self, server: Any, report: Callable[[Outcome], None]) -> None:
        """Check the port, then wait for the server's end and report it."""
        pause = threading.Event()
        for _ in range(self.check_times):
            if pause.wait(self.check_delta) or not _alive(server):
                break
            if answers(self.ip, self.port):
                report(_server_end(server, self))
                return
        _stop_server(server)
        report(Outcome("failed", OSError(f"the web app of job {self.name!r} did not answer on {self.ip}:{self.port}")))

    def _stop(self, rt: Runtime, handle: Any) -> None:
        _stop_server(handle)


def _serve_forever(launcher: Any, ip: str, port: int) -> Any:
    """What calling a webapp job's function does: run the server here, to its end."""
    if isinstance(launcher, str):
        return subprocess.run(launcher.format(ip=ip, port=port), shell=True, check=True).returncode
    return launcher(ip, port)


def _run_pickled(blob: bytes) -> None:
    cloudpickle.loads(blob)()


def _alive(server: Any) -> bool:
    return server.poll() is None if isinstance(server, subprocess.Popen) else bool(server.is_alive())


def _server_end(server: Any, job: WebappJob) -> Outcome:
    if isinstance(server, subprocess.Popen):
        code = server.wait()
    else:
        server.join()
        code = server.exitcode
    if code == 0:
        return Outcome("done", 0)
    return Outcome("failed", subprocess.CalledProcessError(code, job.cmd or job.name))


def _stop_server(server: Any) -> None:
    if isinstance(server, subprocess.Popen):
        if server.poll() is None:
            _signal_group(server, signal.SIGTERM)
    elif server is not None and server.is_alive():
        server.kill()


WebAppJob = WebappJob  # executor-engine's other spelling
