"""The engine: kinds, limits, cancel, retries, callbacks, result dependencies, event-driven
conditions; one regression test per bug of executor-engine."""

from __future__ import annotations

import asyncio
import functools
import os
import subprocess
import sys
import threading
from typing import Any

import pytest

import engine_tasks
from pylo import Status
from pylo.conditions import AfterAnother, AfterTimepoint, Condition
from pylo.errors import InvalidStateError
from pylo.engine import (
    Engine,
    JobCancelled,
    LocalJob,
    ProcessJob,
    SubprocessJob,
    ThreadJob,
)

from engine_helpers import ManualClock, gone, wait_for


def test_kinds_run_and_return(engine: Engine) -> None:
    jobs = [LocalJob(engine_tasks.add, args=(1, 2)), ThreadJob(engine_tasks.add, (3, 4)), ProcessJob(engine_tasks.add, (5, 6))]
    futures = [engine.submit(j) for j in jobs]
    engine.wait()
    assert [f.result() for f in futures] == [3, 7, 11]
    assert all(j.status is Status.DONE and j.attempts == 1 for j in jobs)


def test_async_function_as_local_job(engine: Engine) -> None:
    async def double(x: int) -> int:
        await asyncio.sleep(0)
        return 2 * x

    assert engine.submit(LocalJob(double, (21,))).result(10) == 42


def test_partial_and_callable_objects_are_job_functions(engine: Engine) -> None:
    """Bug 9: functools.partial and callable objects were rejected."""
    jobs = [
        ThreadJob(functools.partial(engine_tasks.add, 1), (2,)),
        ProcessJob(engine_tasks.Multiplier(3), (5,)),
        ThreadJob(engine_tasks.Multiplier(2), (4,)),
    ]
    assert [engine.submit(j).result(60) for j in jobs] == [3, 15, 8]
    assert jobs[0].name == "add" and jobs[1].name == "Multiplier"


def test_failure_is_the_future_exception(engine: Engine) -> None:
    job = ThreadJob(engine_tasks.boom, ("nope",))
    engine.submit(job)
    assert engine.wait_job(job) is None and job.status is Status.FAILED
    with pytest.raises(ValueError, match="nope"):
        job.result()


def test_upstream_failures_release_slots(engine: Engine) -> None:
    """Bug 2: a job cancelled because its upstream failed kept its slot; with max_jobs=3, three
    failures deadlocked the engine."""
    with Engine(max_jobs=3) as eng:
        bad = [ThreadJob(engine_tasks.boom) for _ in range(3)]
        dependents = [ThreadJob(engine_tasks.identity, (b,)) for b in bad]
        for job in dependents + bad:
            eng.submit(job)
        after = [ThreadJob(engine_tasks.add, (i, 1)) for i in range(6)]
        for job in after:
            eng.submit(job)
        eng.wait(timeout=30)
        assert [j.status for j in dependents] == [Status.CANCELLED] * 3
        assert "upstream job 'boom'" in str(dependents[0].cancel_reason) and "ValueError" in str(dependents[0].cancel_reason)
        with pytest.raises(JobCancelled, match="upstream"):
            dependents[0].result()
        assert [j.result() for j in after] == [1, 2, 3, 4, 5, 6]
        assert eng.slots.running_total == 0


def test_limits_per_kind_hold(tmp_path: Any) -> None:
    release = tmp_path / "go"
    with Engine(limits={"thread": 2}) as eng:
        jobs = [ThreadJob(engine_tasks.wait_for_file, (str(release),)) for _ in range(4)]
        for job in jobs:
            eng.submit(job)
        wait_for(lambda: sum(j.status is Status.RUNNING for j in jobs) == 2)
        assert sum(j.status is Status.PENDING for j in jobs) == 2
        release.touch()
        eng.wait(30)
        assert all(j.status is Status.DONE for j in jobs)


def test_retries_and_wait_across_them(tmp_path: Any) -> None:
    """Bug 3: wait_job / join returned when the job failed its first attempt."""
    clock = ManualClock()
    marker = str(tmp_path / "seen")

    def flaky() -> str:
        if not os.path.exists(marker):
            open(marker, "w").close()
            raise ConnectionError("first attempt fails")
        return "ok"

    with Engine(clock=clock) as eng:
        job = ThreadJob(flaky, retries=2, retry_time_delta=5.0, retry_backoff=2.0)
        eng.submit(job)
        wait_for(lambda: clock.armed() == [clock.now + 5.0])  # the retry waits its delay
        assert job.status is Status.PENDING and not job.done()
        assert eng.wait_job(job, timeout=0.05) is None and not job.done()  # a timeout is no error
        clock.advance(5.0)
        assert eng.wait_job(job, timeout=30) == "ok"
        assert job.result() == "ok" and job.attempts == 2 and eng.stats.retries == 1


def test_retries_exhausted_fail_once(engine: Engine) -> None:
    calls: list[int] = []

    def always() -> None:
        calls.append(1)
        raise RuntimeError("still broken")

    job = ThreadJob(always, retries=2)
    engine.submit(job)
    asyncio.run(engine.join([job]))
    assert job.status is Status.FAILED and len(calls) == 3 and job.attempts == 3


def test_raising_callbacks_change_nothing(engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    """Bug 6: a raising success callback marked the job failed and re-ran it."""
    calls: list[Any] = []

    def bad_callback(result: Any) -> None:
        calls.append(result)
        raise RuntimeError("callback bug")

    ok = ThreadJob(engine_tasks.add, (1, 1), callback=bad_callback, retries=3)
    ko = ThreadJob(engine_tasks.boom, error_callback=bad_callback)
    engine.submit(ok)
    engine.submit(ko)
    engine.wait(30)
    assert ok.status is Status.DONE and ok.attempts == 1 and ok.result() == 2
    assert ko.status is Status.FAILED
    assert len(calls) == 2 and 2 in calls and any(isinstance(c, ValueError) for c in calls)
    assert "callback of job add" in caplog.text


def test_cancel_thread_job_frees_its_slot_at_once(tmp_path: Any) -> None:
    """Bug 7: cancelling a thread job blocked the engine until the thread ended."""
    release = tmp_path / "release"
    with Engine(limits={"thread": 1}) as eng:
        stuck = ThreadJob(engine_tasks.wait_for_file, (str(release),))
        eng.submit(stuck)
        wait_for(lambda: stuck.status is Status.RUNNING)
        assert eng.cancel(stuck) is True
        assert stuck.status is Status.CANCELLED
        after = ThreadJob(engine_tasks.add, (2, 2))
        assert eng.submit(after).result(30) == 4  # ran while the stuck thread still waits
        assert not release.exists()
        release.touch()


def test_cancel_process_job_kills_its_process(tmp_path: Any) -> None:
    pid_file, release = tmp_path / "pid", tmp_path / "never"
    with Engine(limits={"process": 1}) as eng:
        job = ProcessJob(engine_tasks.write_pid_and_wait, (str(pid_file), str(release)))
        eng.submit(job)
        wait_for(pid_file.exists, timeout=60)
        pid = int(pid_file.read_text())
        assert not gone(pid)
        assert eng.cancel(job)
        wait_for(lambda: gone(pid))  # really stopped, by a real signal
        assert job.status is Status.CANCELLED
        assert eng.submit(ProcessJob(engine_tasks.add, (1, 2))).result(60) == 3  # pool still works


def test_pools_are_shared_and_closed_with_the_engine() -> None:
    """Bug 8: every job had its own pool, and finished jobs kept their processes and threads."""
    eng = Engine(limits={"process": 2})
    with eng:
        pids = {eng.submit(ProcessJob(engine_tasks.getpid)).result(60) for _ in range(6)}
        assert len(pids) <= 2
        workers = eng.process_pool().pids()
        assert set(workers) == pids
        threads = {eng.submit(ThreadJob(threading.get_ident)).result(30) for _ in range(20)}
        assert len(threads) <= eng.setting.pool_size("thread")
    assert all(gone(pid) for pid in workers)
    assert not [t for t in threading.enumerate() if t.name.startswith("pylo-engine")]


def test_subprocess_killed_by_a_signal_fails(engine: Engine, tmp_path: Any) -> None:
    """Bug 11: a subprocess killed by a signal counted as success."""
    job = SubprocessJob([sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"])
    engine.submit(job)
    assert engine.wait_job(job, 60) is None and job.status is Status.FAILED
    assert isinstance(job.error, subprocess.CalledProcessError) and job.error.returncode == -9


def test_subprocess_cwd_and_output_are_per_job(engine: Engine, tmp_path: Any) -> None:
    """Bug 10: output capture and change_dir changed process-wide state."""
    cwd = os.getcwd()
    job = SubprocessJob("pwd; echo out; echo err >&2", target_dir=str(tmp_path), redirect_out_err=True)
    assert engine.submit(job).result(60) == 0
    assert job.cache_dir is not None
    assert (job.cache_dir / "stdout.txt").read_text().split() == [str(tmp_path), "out"]
    assert (job.cache_dir / "stderr.txt").read_text() == "err\n"
    assert (job.cache_dir / "command.sh").read_text() == "pwd; echo out; echo err >&2\n"
    assert os.getcwd() == cwd


def test_cancel_subprocess_stops_the_whole_group(engine: Engine, tmp_path: Any) -> None:
    pid_file = tmp_path / "pid"
    job = SubprocessJob(f"{sys.executable} -c 'import os,time; open(\"{pid_file}\",\"w\").write(str(os.getpid())); time.sleep(600)'")
    engine.submit(job)
    wait_for(lambda: pid_file.exists() and pid_file.read_text(), timeout=60)
    child = int(pid_file.read_text())  # the python under the shell: not our child, in its group
    engine.cancel(job)
    wait_for(lambda: gone(child))
    assert job.status is Status.CANCELLED


def _deaf_to_sigterm(pid_file: Any, shell: bool) -> str | list[str]:
    """A command whose python ignores SIGTERM, writes its pid to ``pid_file`` and sleeps; with
    ``shell``, a string run by ``/bin/sh``, which dies of the SIGTERM and leaves it running."""
    code = (
        "import os, signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        f"open({str(pid_file)!r} + '.tmp', 'w').write(str(os.getpid())); "
        f"os.replace({str(pid_file)!r} + '.tmp', {str(pid_file)!r}); time.sleep(600)"
    )
    return f"{sys.executable} -c \"{code}\"; true" if shell else [sys.executable, "-c", code]


@pytest.mark.parametrize("shell", [False, True], ids=["argv", "shell"])
def test_stop_kills_a_subprocess_deaf_to_sigterm(tmp_path: Any, shell: bool) -> None:
    """The SIGKILL after the grace period was a timer on the loop that stop() ends, so
    a command ignoring SIGTERM outlived the engine."""
    from pylo.engine._extend import KILL_GRACE

    pid_file = tmp_path / "pid"
    eng = Engine().start()
    job = SubprocessJob(_deaf_to_sigterm(pid_file, shell))
    eng.submit(job)
    wait_for(pid_file.exists, timeout=60)
    pid = int(pid_file.read_text())
    try:
        eng.stop()
        assert job.status is Status.CANCELLED
        wait_for(lambda: gone(pid), timeout=KILL_GRACE + 5)
    finally:
        if not gone(pid):
            os.kill(pid, 9)


def test_stop_waits_for_a_command_only_until_it_exits(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A command that obeys SIGTERM ends stop() at once, not after the grace period: with a
    grace of hours, stop() still returns (no wall-clock threshold to race against)."""
    from pylo.engine import _extend

    monkeypatch.setattr(_extend, "KILL_GRACE", 10_000.0)
    eng = Engine().start()
    job = SubprocessJob(["sleep", "600"])
    eng.submit(job)
    wait_for(lambda: job.status is Status.RUNNING)
    stopper = threading.Thread(target=eng.stop, daemon=True)
    stopper.start()
    stopper.join(60)
    assert not stopper.is_alive(), "stop() waited for the grace period of a command that had exited"
    assert job.status is Status.CANCELLED


def test_cancel_kills_the_group_after_its_leader_died_of_sigterm(engine: Engine, tmp_path: Any) -> None:
    """The SIGKILL after the grace period went to the group only while the shell leading it was
    alive: a program under the shell that ignores SIGTERM kept running."""
    from pylo.engine._extend import KILL_GRACE

    pid_file = tmp_path / "pid"
    job = SubprocessJob(_deaf_to_sigterm(pid_file, shell=True))
    engine.submit(job)
    wait_for(pid_file.exists, timeout=60)
    pid = int(pid_file.read_text())
    try:
        assert engine.cancel(job)
        wait_for(lambda: gone(pid), timeout=KILL_GRACE + 5)
    finally:
        if not gone(pid):
            os.kill(pid, 9)


def test_result_dependencies(engine: Engine) -> None:
    first = ThreadJob(engine_tasks.add, (1, 2))
    second = ProcessJob(engine_tasks.add, (first, 10))
    third = LocalJob(engine_tasks.add, kwargs={"a": engine.submit(first), "b": second})
    engine.submit(third)
    engine.submit(second)
    assert third.result(60) == 16


def test_rerun(engine: Engine) -> None:
    calls: list[int] = []

    def count() -> int:
        calls.append(1)
        return len(calls)

    job = ThreadJob(count)
    first = engine.submit(job)
    assert first.result(30) == 1
    again = engine.rerun(job)
    assert again is not first and again.result(30) == 2  # it really ran a second time
    assert calls == [1, 1] and job.status is Status.DONE and job.attempts == 1


def test_what_a_cancelled_attempt_reports_late_never_ends_the_next_run(engine: Engine, tmp_path: Any) -> None:
    """A re-run is a new run. Its first attempt must not take the report of the cancelled
    attempt before it, which arrives once that attempt's command has died of the SIGTERM."""
    release = tmp_path / "go"
    waiter = f"import sys; sys.path.insert(0, {os.path.dirname(engine_tasks.__file__)!r}); import engine_tasks; engine_tasks.wait_for_file({str(release)!r})"
    job = SubprocessJob([sys.executable, "-c", waiter])
    engine.submit(job)
    reapers = [t for t in threading.enumerate() if t.name == "pylo-engine-subprocess"]  # the first command's
    assert engine.cancel(job) and job.status is Status.CANCELLED
    again = engine.rerun(job)
    wait_for(lambda: not any(t.is_alive() for t in reapers))  # the cancelled attempt has reported
    engine.submit(ThreadJob(engine_tasks.add, (1, 1)))  # returns once the engine took in what came before
    assert job.status is Status.RUNNING, job.error
    release.touch()
    assert again.result(60) == 0 and job.status is Status.DONE


def test_condition_on_failure_only(engine: Engine) -> None:
    ok, bad = ThreadJob(engine_tasks.add, (1, 1)), ThreadJob(engine_tasks.boom)
    on_ok_fail = ThreadJob(engine_tasks.add, (0, 0), condition=AfterAnother(ok.id, statuses=["failed"]))
    on_bad_fail = ThreadJob(engine_tasks.add, (0, 1), condition=AfterAnother(bad.id, statuses=["failed"]))
    for job in (on_ok_fail, on_bad_fail, ok, bad):
        engine.submit(job)
    engine.wait(30)
    assert on_bad_fail.result() == 1
    assert on_ok_fail.status is Status.CANCELLED and "can no longer be satisfied" in str(on_ok_fail.cancel_reason)


def test_chain_of_50_hops_wakes_only_on_events(engine: Engine) -> None:
    """Bug 1: every pending job polled its condition every 10 ms. Here a job is considered only
    when it is submitted and when its upstream changes status: no timer, no poll."""
    jobs = [ThreadJob(engine_tasks.identity, (0,))]
    for i in range(1, 50):
        jobs.append(ThreadJob(engine_tasks.identity, (i,), condition=AfterAnother(jobs[-1].id, statuses=["done"])))
    for job in reversed(jobs):
        engine.submit(job)
    engine.wait(60)
    assert all(j.status is Status.DONE for j in jobs)
    starts = [j.started for j in jobs]
    assert starts == sorted(starts)
    stats = engine.stats
    assert stats.poll_wakeups == 0 and stats.deadline_wakeups == 0
    assert stats.condition_checks <= 3 * len(jobs)  # submit, upstream running, upstream done


def test_time_condition_wakes_once_at_its_deadline(manual_clock: ManualClock) -> None:
    with Engine(clock=manual_clock) as eng:
        when = manual_clock.now + 3600
        job = ThreadJob(engine_tasks.add, (1, 2), condition=AfterTimepoint(when))
        eng.submit(job)
        wait_for(lambda: manual_clock.armed() == [when])  # one timer, at the deadline
        manual_clock.advance(3599)
        assert job.status is Status.PENDING and eng.stats.condition_checks == 1
        manual_clock.advance(1)
        assert job.result(30) == 3
        assert eng.stats.deadline_wakeups == 1 and eng.stats.poll_wakeups == 0


def test_opaque_custom_condition_is_polled(manual_clock: ManualClock) -> None:
    class Flag(Condition):
        def __init__(self) -> None:
            self.up = False

        def satisfy(self, engine: Any) -> bool:
            return self.up

    flag = Flag()
    with Engine(clock=manual_clock) as eng:
        job = ThreadJob(engine_tasks.add, (2, 3), condition=flag, wait_time_delta=0.5)
        eng.submit(job)
        wait_for(lambda: manual_clock.armed() == [manual_clock.now + 0.5])
        manual_clock.advance(0.5)
        wait_for(lambda: manual_clock.armed() == [manual_clock.now + 0.5])
        flag.up = True
        manual_clock.advance(0.5)
        assert job.result(30) == 5 and eng.stats.poll_wakeups == 2


def test_async_api_from_a_running_loop(engine: Engine) -> None:
    async def main() -> list[int]:
        jobs = [ThreadJob(engine_tasks.add, (i, i)) for i in range(5)]
        for job in jobs:
            await engine.submit_async(job)
        await engine.join()
        assert await engine.join([jobs[0]], timeout=30)
        return [await job for job in jobs]

    assert asyncio.run(main()) == [0, 2, 4, 6, 8]


def test_no_directory_left_without_a_store(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Bug 13 (second half): every engine left a .executor/<uuid> directory behind."""
    monkeypatch.chdir(tmp_path)
    with Engine() as eng:
        eng.submit(ProcessJob(engine_tasks.add, (1, 1))).result(60)
        eng.submit(SubprocessJob("true")).result(60)
    assert list(tmp_path.iterdir()) == []


def test_stop_cancels_what_is_left(tmp_path: Any) -> None:
    eng = Engine()
    with eng:
        job = ThreadJob(engine_tasks.wait_for_file, (str(tmp_path / "never"),))
        eng.submit(job)
        pending = ThreadJob(engine_tasks.add, (1, 1), condition=AfterAnother(job.id))
        eng.submit(pending)
    assert job.status is Status.CANCELLED and pending.status is Status.CANCELLED
    with pytest.raises(JobCancelled, match="engine stopped"):
        pending.result()
    (tmp_path / "never").touch()


def test_launcher(engine: Engine) -> None:
    from pylo.engine import launcher

    @launcher(job_type="thread", engine=engine)
    def add(a: int, b: int) -> int:
        return a + b

    job = add.submit(1, 2)
    assert isinstance(job, ThreadJob) and job.result(30) == 3
    assert add(2, 3) == 5

    async def run_async() -> int:
        return await add.to_async()(4, 5)  # type: ignore[no-any-return]

    assert asyncio.run(run_async()) == 9


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda tmp: ThreadJob(engine_tasks.boom), id="failed"),
        pytest.param(lambda tmp: ThreadJob(engine_tasks.boom, retries=1), id="failed-after-retry"),
        pytest.param(lambda tmp: ProcessJob(engine_tasks.identity, (threading.Lock(),)), id="unpicklable-call"),
        pytest.param(lambda tmp: LocalJob(engine_tasks.add, (1, 1)), id="done"),
    ],
)
def test_every_exit_path_gives_the_slot_back(make: Any, tmp_path: Any) -> None:
    with Engine(max_jobs=1) as eng:
        job = make(tmp_path)
        eng.submit(job)
        eng.wait_job(job, 60)
        assert eng.slots.running_total == 0
        assert eng.submit(ThreadJob(engine_tasks.add, (1, 2))).result(30) == 3


def test_unpicklable_process_call_fails_clearly(engine: Engine) -> None:
    job = ProcessJob(engine_tasks.identity, (threading.Lock(),))
    engine.submit(job)
    assert engine.wait_job(job, 30) is None and job.status is Status.FAILED
    assert "lock" in str(job.error).lower()


def test_cancel_pending_and_unknown(engine: Engine, tmp_path: Any) -> None:
    from pylo.engine import JobNotFound

    gate = ThreadJob(engine_tasks.wait_for_file, (str(tmp_path / "go"),))
    waiting = ThreadJob(engine_tasks.add, (1, 1), condition=AfterAnother(gate.id))
    engine.submit(gate)
    engine.submit(waiting)
    assert engine.cancel(waiting.id) is True and engine.cancel(waiting) is False
    with pytest.raises(JobCancelled, match="cancelled by user"):
        waiting.result()
    with pytest.raises(JobNotFound):
        engine.cancel("no-such-job")
    (tmp_path / "go").touch()
    assert gate.result(30) == str(tmp_path / "go")
    assert waiting.status is Status.CANCELLED  # its gate opened after it was cancelled: it stays so


def test_submitting_again_reruns_an_ended_job_and_refuses_a_live_one(engine: Engine, tmp_path: Any) -> None:
    from pylo import InvalidArgument

    job = ThreadJob(engine_tasks.add, (1, 1))
    first = engine.submit(job)
    assert first.result(30) == 2
    again = engine.submit(job)  # ended: it runs again, with a new future
    assert again is not first and again.result(30) == 2 and job.status is Status.DONE
    live = ThreadJob(engine_tasks.wait_for_file, (str(tmp_path / "go"),))
    engine.submit(live)
    with pytest.raises(InvalidArgument, match="already running"):
        engine.submit(live)
    with Engine() as other, pytest.raises(InvalidArgument, match="another engine"):
        other.submit(job)
    (tmp_path / "go").touch()


def test_cancelling_the_future_cancels_the_job(engine: Engine, tmp_path: Any) -> None:
    job = ThreadJob(engine_tasks.wait_for_file, (str(tmp_path / "never"),))
    future = engine.submit(job)
    wait_for(lambda: job.status is Status.RUNNING)
    assert future.cancel() is True
    assert job.status is Status.CANCELLED and job.cancel_reason == "cancelled through its future"
    assert future.cancel() is False  # it has ended
    engine.wait(10)
    (tmp_path / "never").touch()


def test_a_raising_condition_fails_its_job_only(engine: Engine) -> None:
    class Broken(Condition):
        def satisfy(self, engine: Any) -> bool:
            raise KeyError("no such thing")

    job = ThreadJob(engine_tasks.add, (1, 1), condition=Broken())
    engine.submit(job)
    assert engine.wait_job(job, 30) is None and job.status is Status.FAILED and isinstance(job.error, KeyError)
    assert engine.submit(ThreadJob(engine_tasks.add, (1, 2))).result(30) == 3


def test_an_engine_takes_jobs_only_while_it_runs() -> None:
    """As with executor-engine, ``submit`` refuses jobs (a ``RuntimeError``) until the engine is
    started and after it stopped; the refused job is left untouched and can be submitted later."""
    eng = Engine()
    job = ThreadJob(engine_tasks.add, (2, 5))
    with pytest.raises(InvalidStateError, match="not running") as refused:
        eng.submit(job)
    assert isinstance(refused.value, RuntimeError)
    assert job.engine is None and job not in eng.jobs and job.status is Status.PENDING
    eng.start()
    try:
        assert eng.submit(job).result(30) == 7
    finally:
        eng.stop()
    with pytest.raises(InvalidStateError):
        eng.submit(ThreadJob(engine_tasks.add, (1, 1)))
    with eng:  # a stopped engine starts again
        assert eng.submit(ThreadJob(engine_tasks.add, (1, 1))).result(30) == 2


def test_submit_async_starts_the_engine_it_needs() -> None:
    """Async code awaits its jobs without starting the engine first, as executor-engine's does."""
    eng = Engine()

    async def main() -> int:
        job = ThreadJob(engine_tasks.add, (3, 4))
        await eng.submit_async(job)
        await job.join(timeout=30)
        return int(job.result())

    try:
        assert asyncio.run(main()) == 7
    finally:
        eng.stop()


def test_an_engine_has_a_loop_from_its_first_start_on(manual_clock: ManualClock) -> None:
    engine = Engine(clock=manual_clock)
    with pytest.raises(InvalidStateError, match="never started"):
        _ = engine.loop
    with engine:
        loop = engine.loop
        assert loop.is_running() and engine.clock is manual_clock
    assert engine.loop is loop and loop.is_closed()  # the loop of its latest start, closed


def test_an_engine_runs_the_loop_it_was_given_before_its_start() -> None:
    engine = Engine()
    given = asyncio.new_event_loop()
    engine.loop = given  # executor-engine's way
    with engine:
        assert engine.loop is given and given.is_running()
        assert engine.submit(LocalJob(engine_tasks.add, (1, 2))).result(60) == 3
        late = asyncio.new_event_loop()
        with pytest.raises(InvalidStateError, match="only before it starts"):
            engine.loop = late
        late.close()
    assert given.is_closed()
    with engine:  # a stopped engine starts again, on a loop of its own
        assert engine.loop is not given and engine.loop.is_running()
