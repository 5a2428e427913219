"""Every example of the executor-engine README, with only the import paths changed to
``pylo.engine`` / ``pylo.conditions`` (prints become assertions; sleeps and endless waits become
events and an injected clock)."""

from __future__ import annotations

import asyncio
import random
import threading
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.server import HTTPServer, SimpleHTTPRequestHandler
from typing import Any

import pytest

from engine_helpers import ManualClock, wait_for


def add(a: int, b: int) -> int:
    return a + b


def test_basic_usage() -> None:
    from pylo.engine import Engine, ProcessJob

    engine = Engine()
    engine.start()
    job = ProcessJob(add, args=(1, 2))
    future = engine.submit(job)
    assert future.result() == 3
    engine.stop()


def test_with_statement() -> None:
    from pylo.engine import Engine, LocalJob, ProcessJob, ThreadJob

    with Engine() as engine:
        job1 = LocalJob(add, args=(1, 2))
        job2 = ThreadJob(add, args=(3, 4))
        job3 = ProcessJob(add, args=(5, 6))
        engine.submit(job1)
        engine.submit(job2)
        engine.submit(job3)
        engine.wait()
        assert (job1.result(), job2.result(), job3.result()) == (3, 7, 11)


def test_asyncio() -> None:
    from pylo.engine import Engine, ProcessJob

    engine = Engine()

    async def main() -> None:
        job1 = ProcessJob(add, args=(1, 2))
        job2 = ProcessJob(add, args=(3, 4))
        await engine.submit_async(job1)
        await engine.submit_async(job2)
        await engine.join()
        assert (job1.result(), job2.result()) == (3, 7)

    asyncio.run(main())
    engine.stop()


def test_subprocess_job(capfd: pytest.CaptureFixture[str]) -> None:
    from pylo.engine import Engine
    from pylo.engine.job.extend import SubprocessJob

    job = SubprocessJob("python -c 'print(1 + 2)'")
    with Engine() as engine:
        engine.submit(job)
        engine.wait_job(job)
    assert job.status == "done" and capfd.readouterr().out == "3\n"


def run_simple_httpd(ip: str, port: int) -> None:
    server_addr = (ip, port)
    httpd = HTTPServer(server_addr, SimpleHTTPRequestHandler)
    httpd.serve_forever()


@pytest.mark.parametrize("target", [run_simple_httpd, "python -m http.server -b {ip} {port}"])
def test_webapp_job(target: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from pylo.engine import Engine
    from pylo.engine.job.extend import WebAppJob

    monkeypatch.chdir(tmp_path)
    with Engine() as engine:
        job = WebAppJob(target, ip="127.0.0.1")  # port=None: a free one, not a fixed 8000
        engine.submit(job)
        wait_for(lambda: job.done() or _serves(f"http://127.0.0.1:{job.port}/"), timeout=60)
        assert not job.done(), job.error
        engine.cancel(job)  # instead of engine.wait(), which serves forever
        assert job.status == "cancelled"


def _serves(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def test_after_another(capfd: pytest.CaptureFixture[str]) -> None:
    from pylo.conditions import AfterAnother
    from pylo.engine import Engine, ProcessJob

    def add(a: int, b: int) -> int:
        print(f"add({a}, {b})", flush=True)
        return a + b

    with Engine() as engine:
        job1 = ProcessJob(add, args=(1, 2))
        job2 = ProcessJob(add, args=(3, 4), condition=AfterAnother(job_id=job1.id))
        engine.submit(job1)
        engine.submit(job2)
        engine.wait()
    assert capfd.readouterr().out == "add(1, 2)\nadd(3, 4)\n"
    assert job2.started is not None and job1.stopped is not None and job2.started >= job1.stopped


def test_after_timepoint(manual_clock: ManualClock) -> None:
    from pylo.conditions import AfterTimepoint
    from pylo.engine import Engine, ThreadJob

    said: list[str] = []
    with Engine(clock=manual_clock) as engine:
        now = datetime.fromtimestamp(manual_clock.time())
        after_5_seconds = now + timedelta(seconds=5)
        job = ThreadJob(lambda: said.append("Hello"), condition=AfterTimepoint(timepoint=after_5_seconds))
        engine.submit(job)
        wait_for(lambda: manual_clock.armed() != [])
        manual_clock.advance(4.9)
        assert said == [] and job.status == "pending"
        manual_clock.advance(0.1)
        engine.wait()
    assert said == ["Hello"]


def test_all_satisfied() -> None:
    from pylo.conditions import AfterAnother, AllSatisfied
    from pylo.engine import Engine, ThreadJob

    s: set[int] = set()
    job1 = ThreadJob(lambda: s.add(1))
    job2 = ThreadJob(lambda: s.add(2))

    def has_two_elements() -> None:
        assert len(s) == 2

    job3 = ThreadJob(has_two_elements, condition=AllSatisfied(conditions=[
        AfterAnother(job_id=job1.id),
        AfterAnother(job_id=job2.id),
    ]))
    with Engine() as engine:
        engine.submit(job3)
        engine.submit(job2)
        engine.submit(job1)
        engine.wait()
    assert job3.status == "done"


def test_any_satisfied() -> None:
    from pylo.conditions import AfterAnother, AnySatisfied
    from pylo.engine import Engine, ThreadJob

    s: set[int] = set()
    job3_ran = threading.Event()

    def add_2_after_job3() -> None:  # the README sleeps 1 s here; an event says the same thing
        job3_ran.wait(30)
        s.add(2)

    def has_one_element() -> None:
        assert len(s) == 1  # when job3 is executed, only job1 is finished
        job3_ran.set()

    with Engine() as engine:
        job1 = ThreadJob(lambda: s.add(1))
        job2 = ThreadJob(add_2_after_job3)
        job3 = ThreadJob(has_one_element, condition=AnySatisfied(conditions=[
            AfterAnother(job_id=job1.id),
            AfterAnother(job_id=job2.id),
        ]))
        engine.submit(job3)
        engine.submit(job2)
        engine.submit(job1)
        engine.wait()
    assert job3.status == "done" and s == {1, 2}


def test_custom_condition() -> None:
    from pylo.conditions import Condition
    from pylo.engine import Engine, ThreadJob

    draws = random.Random(7)  # seeded: the README's random.random(), made repeatable
    seen: list[float] = []

    @dataclass
    class RandomCondition(Condition):
        probability: float = 0.5

        def satisfy(self, engine: Any) -> bool:
            p = draws.random()
            seen.append(p)
            if p <= self.probability:
                return True
            else:
                return False

    with Engine() as engine:
        job = ThreadJob(lambda: "hi", condition=RandomCondition(0.2), wait_time_delta=0.001)
        # job has a 20% chance to be executed at each check
        engine.submit(job)
        engine.wait()
    assert job.result() == "hi" and seen[-1] <= 0.2 and all(p > 0.2 for p in seen[:-1])
    assert engine.stats.poll_wakeups == len(seen) - 1
