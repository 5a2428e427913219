"""What a program written for executor-engine 0.3 relies on, checked here in our own words: its
import paths, the engine's and the job's API, generator and async jobs, per-job output and
folders, subprocess and web app jobs, sentinels, launchers."""

from __future__ import annotations

import asyncio
import importlib
import os
import shlex
import subprocess
import sys
import threading
from typing import Any

import pytest

import engine_tasks
from engine_helpers import ManualClock, reserved_port, wait_for
from pylo import InvalidArgument, Status
from pylo.conditions import AfterAnother, AfterOthers, AllSatisfied, EveryPeriod
from pylo.engine import (
    CronJob,
    Engine,
    EngineSetting,
    InvalidStateError,
    Job,
    LocalJob,
    ProcessJob,
    SentinelJob,
    SubprocessJob,
    ThreadJob,
    WebappJob,
    get_default_engine,
    launcher,
)

KINDS = [LocalJob, ThreadJob, ProcessJob]

# executor-engine's public module paths, and a name each must share with pylo.engine
PATHS = {
    "pylo.engine.core": ["Engine", "EngineSetting"],
    "pylo.engine.job": ["Job", "LocalJob", "ThreadJob", "ProcessJob", "DaskJob"],
    "pylo.engine.job.base": ["Job", "JobFuture", "InvalidStateError"],
    "pylo.engine.job.dask": ["DaskJob"],
    "pylo.engine.job.condition": ["AfterAnother", "AfterOthers", "AfterClock", "BeforeClock", "AfterTimepoint",
                                  "BeforeTimepoint", "AfterWeekday", "BeforeWeekday", "EveryPeriod",
                                  "AllSatisfied", "AnySatisfied", "Condition"],
    "pylo.engine.job.extend.subprocess": ["SubprocessJob"],
    "pylo.engine.job.extend.webapp": ["WebappJob"],
    "pylo.engine.job.extend.cron": ["CronJob"],
    "pylo.engine.job.extend.sentinel": ["SentinelJob"],
    "pylo.engine.launcher": ["launcher", "get_default_engine"],
}


@pytest.mark.parametrize("path", sorted(PATHS))
def test_every_executor_engine_path_names_the_one_implementation(path: str) -> None:
    import pylo.conditions
    import pylo.engine

    module = importlib.import_module(path)
    for name in PATHS[path]:
        ours = getattr(pylo.engine, name, None) or getattr(pylo.conditions, name)
        assert getattr(module, name) is ours, f"{path}.{name}"


def test_public_classes_name_their_public_module() -> None:
    import pylo.engine

    for name in pylo.engine.__all__:
        obj = getattr(pylo.engine, name)
        if isinstance(obj, type):
            assert obj.__module__ in ("pylo.engine", "pylo.errors"), name  # errors live in the one tree


def test_engine_setting_defaults_and_the_setting_argument() -> None:
    setting = EngineSetting()
    assert setting.max_jobs == 20
    assert (setting.max_thread_jobs, setting.max_process_jobs, setting.max_dask_jobs) == (None, None, None)
    engine = Engine(EngineSetting(max_jobs=2, max_thread_jobs=1))
    assert engine.slots.total == 2 and engine.slots.per_kind["thread"] == 1
    assert Engine(setting=setting, max_jobs=3).slots.total == 3  # a keyword overrides the setting
    assert setting.max_jobs == 20  # the caller's setting is not changed
    with pytest.raises(InvalidArgument, match="cache_type"):
        Engine(EngineSetting(cache_type="diskcache"))


def test_submit_several_jobs_and_find_them_running_at_once(tmp_path: Any) -> None:
    release = tmp_path / "go"
    with Engine(EngineSetting(max_jobs=1)) as engine:
        first = ThreadJob(engine_tasks.wait_for_file, (str(release),))
        second = ThreadJob(engine_tasks.add, (1, 2))
        futures = engine.submit(first, second)
        assert [f.job for f in futures] == [first, second]
        assert first in engine.jobs and second in engine.jobs and len(engine.jobs) == 2
        assert first.status == "running" and second.status == "pending"  # no wait: submit took them in
        assert engine.jobs.running.values() == [first] and engine.jobs.pending.keys() == [second.id]
        release.touch()
        assert engine.wait(timeout=30) is True
        assert [job.id for job in engine.jobs.done] == [first.id, second.id]


def test_wait_and_join_return_on_a_timeout_and_later_waits_still_work(tmp_path: Any) -> None:
    """A timed-out join cancelled the engine's idle future: every later wait then failed with
    InvalidStateError."""
    release = tmp_path / "go"
    with Engine() as engine:
        job = ThreadJob(engine_tasks.wait_for_file, (str(release),))
        engine.submit(job)
        assert asyncio.run(engine.join(timeout=0.01)) is False
        assert engine.wait(timeout=0.01) is False
        assert engine.wait_job(job, timeout=0.01) is None
        release.touch()
        assert engine.wait(timeout=30) is True
        assert engine.wait_job(job) == str(release)


def test_wait_for_selected_jobs(tmp_path: Any) -> None:
    release = tmp_path / "go"
    with Engine() as engine:
        quick = ThreadJob(engine_tasks.add, (1, 1))
        slow = ThreadJob(engine_tasks.wait_for_file, (str(release),))
        engine.submit(quick, slow)
        assert engine.wait(select_jobs=lambda jobs: [j for j in jobs.pending.values() + jobs.running.values() if j is quick], timeout=30)
        assert quick.status == "done" and slow.status == "running"

        async def selected() -> bool:
            return await engine.wait_async(select_jobs=lambda jobs: [slow] if not slow.done() else [], timeout=0.01)

        assert asyncio.run(selected()) is False
        release.touch()
        assert engine.wait(30)


def test_result_does_not_wait_and_says_why(tmp_path: Any) -> None:
    release = tmp_path / "go"
    job = ThreadJob(engine_tasks.wait_for_file, (str(release),))
    with pytest.raises(InvalidStateError):
        job.result()
    with Engine() as engine:
        engine.submit(job)
        with pytest.raises(InvalidStateError, match="running"):
            job.result()
        assert job.exception() is None
        release.touch()
        assert job.result(timeout=30) == str(release)  # with a timeout it waits


def test_job_coroutines_join_cancel_rerun_and_wait_until(tmp_path: Any) -> None:
    release = tmp_path / "go"

    async def main() -> None:
        engine = Engine()
        job = ThreadJob(engine_tasks.wait_for_file, (str(release),))
        with pytest.raises(InvalidStateError):
            await job.join()
        await engine.submit_async(job)
        await job.wait_until_status("running", timeout=30)
        with pytest.raises(asyncio.TimeoutError):
            await job.wait_until_status("done", timeout=0.01)
        await job.join(timeout=0.01)  # returns, like executor-engine's
        with pytest.raises(InvalidStateError):
            await job.rerun()  # still running
        assert await job.cancel() is True
        assert job.status == "cancelled"
        release.touch()
        await job.rerun()
        await job.join()
        assert job.result() == str(release)
        engine.stop()

    asyncio.run(main())


def test_retry_options_and_what_is_left() -> None:
    clock = ManualClock()
    job = ThreadJob(engine_tasks.boom, retries=2, retry_time_delta=3.0)
    assert job.retry_remain == 2 and job.retry_time_delta == 3.0
    with Engine(clock=clock) as engine:
        engine.submit(job)
        wait_for(lambda: clock.armed() == [clock.now + 3.0])
        assert job.retry_remain == 1 and job.status == "pending"
        clock.advance(3.0)
        wait_for(lambda: job.attempts == 2 and clock.armed() == [clock.now + 3.0])
        clock.advance(3.0)
        engine.wait(30)
    assert job.status == "failed" and job.retry_remain == 0 and job.attempts == 3


@pytest.mark.parametrize(
    "option, value",
    [("retries", True), ("retries", -1), ("retry_time_delta", float("nan")), ("retry_time_delta", float("inf")),
     ("retry_time_delta", True), ("retry_time_delta", threading.TIMEOUT_MAX * 2), ("wait_time_delta", 0),
     ("wait_time_delta", float("nan")), ("retry_backoff", 0.5)],
)
def test_numeric_options_refuse_bools_nan_inf_and_out_of_range(option: str, value: Any) -> None:
    with pytest.raises(InvalidArgument, match=option):
        ThreadJob(engine_tasks.add, (1, 1), **{option: value})


def _refusal(make: Any) -> str | None:
    """The message of the ``InvalidArgument`` that ``make()`` raises, the option's name cut out."""
    try:
        make()
    except InvalidArgument as exc:
        return str(exc).split(" ", 1)[1]
    return None


_NUMBERS = [0, 1, 2.5, -1, -0.5, True, False, "1", None, float("nan"), float("inf"), 1e300, threading.TIMEOUT_MAX]


@pytest.mark.parametrize("value", _NUMBERS, ids=repr)
@pytest.mark.parametrize(
    "job_option, config_option",
    [("retries", "retries"), ("retry_time_delta", "retry_delay"), ("retry_backoff", "retry_backoff"),
     ("retry_max_delay", "retry_max_delay")],
)
def test_a_jobs_retry_options_follow_the_rules_of_an_executions(job_option: str, config_option: str, value: Any) -> None:
    """One retry policy: a job refuses exactly the values an execution's config refuses, in the same words."""
    from pylo._core.config import Config

    job = _refusal(lambda: ThreadJob(engine_tasks.add, (1, 1), **{job_option: value}))
    config = _refusal(lambda: Config(**{config_option: value}))
    assert job == config


@pytest.mark.parametrize("value", _NUMBERS, ids=repr)
def test_engine_limits_follow_the_rules_of_a_worker_count(value: Any) -> None:
    from pylo._core.config import Config

    engine = _refusal(lambda: Engine(max_jobs=value, limits={"thread": value}))
    config = None if value is None else _refusal(lambda: Config(number_of_workers=value))
    assert engine == config


@pytest.mark.parametrize("timeout", [True, float("nan"), float("inf"), -1.0, threading.TIMEOUT_MAX * 2])
def test_waits_refuse_bad_timeouts(engine: Engine, timeout: Any) -> None:
    job = ThreadJob(engine_tasks.add, (1, 1))
    engine.submit(job)
    for wait in (lambda: engine.wait(timeout), lambda: engine.wait_job(job, timeout), lambda: job.future.result(timeout)):
        with pytest.raises(InvalidArgument, match="timeout"):
            wait()


def test_callbacks_as_executor_engine_calls_them(engine: Engine) -> None:
    seen: list[Any] = []
    done = threading.Event()

    async def later(value: Any) -> None:
        seen.append(("async", value))
        done.set()

    job = ThreadJob(engine_tasks.add, (1, 2), callback=later)
    job.future.add_done_callback(lambda value: seen.append(("future", value)))
    engine.submit(job)
    assert engine.wait_job(job) == 3
    assert done.wait(30)
    job.future.add_done_callback(lambda value: seen.append(("late", value)))  # already done: called now
    assert sorted(seen) == [("async", 3), ("future", 3), ("late", 3)]


def test_dependencies_show_in_the_condition() -> None:
    first = ThreadJob(engine_tasks.add, (1, 2))
    second = ThreadJob(engine_tasks.add, (first.future, 1))
    third = ThreadJob(engine_tasks.add, kwargs={"a": second.future, "b": 1}, condition=AfterAnother(first.id))
    assert second.condition == AfterOthers([first.id], statuses=["done"])
    assert isinstance(third.condition, AllSatisfied)
    with Engine() as engine:
        engine.submit(third, second, first)
        assert engine.wait_job(third) == 5


def test_a_dependency_on_a_job_of_another_engine_fails_at_once() -> None:
    """It waited forever: the other engine's status changes never reach this one."""
    with Engine() as one, Engine() as other:
        upstream = ThreadJob(engine_tasks.add, (1, 2))
        one.submit(upstream)
        downstream = ThreadJob(engine_tasks.add, (upstream, 1))
        other.submit(downstream)
        assert other.wait(30)
        assert downstream.status == "failed" and "another engine" in str(downstream.error)


@pytest.mark.parametrize("kind", KINDS)
def test_generator_jobs_run_until_exhausted(engine: Engine, kind: type[Job]) -> None:
    job = kind(engine_tasks.count_up, (4,))
    engine.submit(job)
    assert job.status == "running"
    assert list(job.result()) == [0, 1, 2, 3]
    assert job.status == "done"
    summing = kind(engine_tasks.running_sum)
    engine.submit(summing)
    gen = summing.result()
    assert [gen.send(None), gen.send(2), gen.send(3)] == [0, 2, 5]
    assert engine.cancel(summing) and summing.status == "cancelled"


@pytest.mark.parametrize("kind", KINDS)
def test_a_failing_generator_fails_its_job(engine: Engine, kind: type[Job]) -> None:
    job = kind(engine_tasks.count_then_fail, (2,))
    engine.submit(job)
    values = []
    with pytest.raises(KeyError):
        for value in job.result():
            values.append(value)
    assert values == [0, 1] and job.status == "failed" and isinstance(job.exception(), KeyError)


@pytest.mark.parametrize("kind", KINDS)
def test_async_generator_and_async_function_jobs(engine: Engine, kind: type[Job]) -> None:
    async def main() -> list[int]:
        job = kind(engine_tasks.async_count_up, (3,))
        await engine.submit_async(job)
        got = [value async for value in job.result()]
        assert job.status == "done"
        plain = kind(engine_tasks.async_add, (2, 3))
        await engine.submit_async(plain)
        await plain.wait_until_status("done")
        return [*got, plain.result()]  # the result is there once the status says done

    assert asyncio.run(main()) == [0, 1, 2, 5]


@pytest.mark.parametrize("kind", KINDS)
def test_sys_exit_in_a_job_fails_it_and_frees_its_slot(kind: type[Job]) -> None:
    """A SystemExit left the job running forever with its slot taken (and, in a LocalJob, ended
    the engine's loop)."""
    with Engine(EngineSetting(max_jobs=1)) as engine:
        job = kind(engine_tasks.leave, (3,))
        after = kind(engine_tasks.add, (1, 1))
        engine.submit(job, after)
        assert engine.wait(30)
        assert job.status == "failed" and isinstance(job.exception(), SystemExit)
        assert after.result() == 2


def test_two_thread_jobs_at_once_capture_only_their_own_output(engine: Engine, tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    both = threading.Barrier(2, timeout=30)

    def talk(name: str) -> None:
        both.wait()  # both jobs run at the same time
        for _ in range(50):
            print(name)
        print(f"{name} complains", file=sys.stderr)

    jobs = [ThreadJob(talk, (name,), redirect_out_err=True) for name in ("left", "right")]
    engine.submit(*jobs)
    print("the test itself")
    assert engine.wait(30)
    for job, name in zip(jobs, ("left", "right")):
        assert job.cache_dir is not None
        assert (job.cache_dir / "stdout.txt").read_text() == f"{name}\n" * 50
        assert (job.cache_dir / "stderr.txt").read_text() == f"{name} complains\n"
    assert capsys.readouterr().out == "the test itself\n"


def test_process_job_output_and_folder_are_its_own(engine: Engine, tmp_path: Any) -> None:
    cwd = os.getcwd()
    log = tmp_path / "logs" / "job.log"
    job = ProcessJob(engine_tasks.shout, ("hi",), redirect_out_err=str(log))
    engine.submit(job)
    assert engine.wait_job(job) == "hi"
    assert sorted(log.read_text().split()) == ["err:hi", "fd1:hi", "out:hi"]
    here = ProcessJob(engine_tasks.write_here, ("made.txt",), change_dir=True)
    engine.submit(here)
    assert here.cache_dir is not None and engine.wait_job(here) == str(here.cache_dir.resolve())
    assert (here.cache_dir / "made.txt").read_text() == "here" and os.getcwd() == cwd
    failing = ProcessJob(engine_tasks.boom, ("to stderr",), redirect_out_err=True)
    engine.submit(failing)
    engine.wait_job(failing)
    assert failing.cache_dir is not None and "to stderr" in (failing.cache_dir / "stderr.txt").read_text()


@pytest.mark.parametrize("kind", [LocalJob, ThreadJob])
def test_change_dir_is_refused_where_the_folder_is_the_whole_process(kind: type[Job]) -> None:
    with pytest.raises(InvalidArgument, match="ProcessJob"):
        kind(engine_tasks.write_here, ("x",), change_dir=True)


def test_cache_dirs_are_made_on_first_use_only(tmp_path: Any) -> None:
    engine = Engine(EngineSetting(cache_path=str(tmp_path / "cache")))
    job = ThreadJob(engine_tasks.add, (1, 1))
    assert job.cache_dir is None and not (tmp_path / "cache").exists()
    with engine:
        engine.submit(job)
        assert job.cache_dir == tmp_path / "cache" / job.id and job.cache_dir.is_dir()


def test_subprocess_job_as_executor_engine_runs_it(engine: Engine, tmp_path: Any) -> None:
    env = {**os.environ, "GREETING": "hello"}
    job = SubprocessJob(f"{sys.executable} -c 'import os; print(os.environ[\"GREETING\"])'",
                        target_dir="$cache_dir", popen_kwargs={"env": env}, redirect_out_err=True)
    assert job.cmd in repr(job)
    engine.submit(job)
    assert engine.wait_job(job) == 0
    assert job.cache_dir is not None
    assert (job.cache_dir / "stdout.txt").read_text() == "hello\n"
    assert (job.cache_dir / "command.sh").read_text() == job.cmd + "\n"
    bad = SubprocessJob(f"{sys.executable} -c 'raise SystemExit(3)'", condition=AfterAnother(job.id))
    assert repr(bad.condition) in repr(bad)
    engine.submit(bad)
    engine.wait_job(bad)
    assert bad.status == "failed" and isinstance(bad.exception(), subprocess.CalledProcessError)


@pytest.mark.parametrize("base", [ProcessJob, LocalJob])
def test_subprocess_job_run_from_another_kind(engine: Engine, tmp_path: Any, base: type[Job]) -> None:
    out = tmp_path / "out.txt"
    job = SubprocessJob(f"echo from-{base.__name__}", base_class=base, redirect_out_err=str(out))
    engine.submit(job)
    assert engine.wait_job(job) == 0 and out.read_text() == f"from-{base.__name__}\n"


def test_webapp_job_checks_its_arguments_and_its_port(engine: Engine) -> None:
    with pytest.raises(NotImplementedError):
        WebappJob(engine_tasks.serve, ip="192.0.2.1")
    with pytest.raises(ValueError, match="placeholders"):
        WebappJob("python -m http.server -b ip port")
    with pytest.raises(TypeError):
        WebappJob(42)  # type: ignore[arg-type]
    wrong = WebappJob(engine_tasks.serve_elsewhere, check_times=3, check_delta=0.2)
    engine.submit(wrong)
    assert engine.wait_job(wrong, 60) is None
    assert wrong.status == "failed" and isinstance(wrong.exception(), OSError)


@pytest.mark.parametrize("as_command", [False, True], ids=["serve", "command"])
def test_webapp_job_runs_until_cancelled(engine: Engine, as_command: bool) -> None:
    from pylo.engine._extend import answers

    with reserved_port() as port:  # nothing else can take the port before the server does
        target: Any = engine_tasks.serve_sharing_port
        if as_command:
            target = shlex.join([sys.executable, engine_tasks.__file__]) + " {ip} {port}"
        # a server slow to start (a loaded machine) is given a minute; a quick one answers at once
        job = WebappJob(target, port=port, check_times=300, check_delta=0.2)
        engine.submit(job)
        wait_for(lambda: answers(job.ip, job.port) or job.done(), timeout=90)
        assert job.status == "running", job.error
        assert engine.cancel(job) and job.status == "cancelled"
        wait_for(lambda: not answers(job.ip, job.port), timeout=30)


def test_cron_job_submits_once_per_period_by_the_engine_clock() -> None:
    clock = ManualClock()
    with Engine(clock=clock) as engine:
        cron = CronJob(engine_tasks.add, EveryPeriod("10s"), job_type="thread", args=(1, 1))
        engine.submit(cron)
        wait_for(lambda: clock.armed() == [clock.now + 10.0])
        assert len(engine.jobs) == 1  # nothing before the first period ends
        for n in (2, 3, 4):
            clock.advance(10.0)
            wait_for(lambda: len(engine.jobs) == n and clock.armed() == [clock.now + 10.0])
        made = [job for job in engine.jobs if job is not cron]
        assert all(isinstance(job, ThreadJob) and job.result(30) == 2 for job in made)
        assert engine.cancel(cron)
        wait_for(lambda: clock.armed() == [])  # its timer goes with it


def test_sentinel_job_submits_while_its_condition_holds() -> None:
    clock = ManualClock()
    with Engine(clock=clock) as engine:
        gate = ThreadJob(engine_tasks.add, (0, 0))
        sentinel = SentinelJob(engine_tasks.add, AfterAnother(gate.id), job_type="local", time_delta=1.0, args=(2, 3))
        engine.submit(sentinel)
        wait_for(lambda: clock.armed() == [clock.now + 1.0])
        assert len(engine.jobs) == 1
        engine.submit(gate)
        engine.wait_job(gate)
        clock.advance(1.0)
        wait_for(lambda: len(engine.jobs) == 3 and clock.armed() == [clock.now + 1.0])
        assert engine.cancel(sentinel)


def test_launcher_uses_the_enclosing_engine_and_a_default_one() -> None:
    @launcher(job_type="thread")
    def add(a: int, b: int) -> int:
        return a + b

    assert add.engine is get_default_engine() and add.async_mode is False
    with Engine() as engine:
        assert add.engine is engine
        job = add.submit(1, 2)
        assert job.engine is engine and add(job.future, 3) == 6
    async_add = add.to_async()
    assert async_add.async_mode and async_add.to_sync().async_mode is False


def test_launcher_of_a_command_function() -> None:
    class Cmd2Func:  # the shape of cmd2func's decorator: a callable that builds a command line
        def __init__(self, build: Any) -> None:
            self.build = build
            self.__name__ = build.__name__

        def get_cmd_str(self, *args: Any, **kwargs: Any) -> Any:
            return self.build(*args, **kwargs)

        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            raise AssertionError("the launcher runs the command, not the function")

    def echo(word: str) -> str:
        return f"echo {word}"

    def echo_gen(word: str) -> Any:
        yield f"echo {word}"

    with Engine():
        for build in (echo, echo_gen):
            run = launcher(Cmd2Func(build))
            assert run.job_type == "subprocess"
            job = run.submit("hi")
            assert isinstance(job, SubprocessJob) and job.cmd == "echo hi" and run("hi") == 0


def test_a_webapp_job_waiting_for_a_slot_is_pending(engine: Engine, tmp_path: Any) -> None:
    release = tmp_path / "go"
    with Engine(EngineSetting(max_jobs=1)) as small:
        busy = ThreadJob(engine_tasks.wait_for_file, (str(release),))
        web = WebappJob(engine_tasks.serve)
        small.submit(busy, web)
        assert busy.status == "running" and web.status == "pending"  # not "running" behind the pool
        assert small.cancel(web) and web.status == "cancelled"
        release.touch()
