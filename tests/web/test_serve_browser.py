"""``pylo serve`` in a real headless browser: Debian's chromium driven by Playwright.

The running execution is deterministic: a threads run in this process whose task waits on a
semaphore the test releases one input at a time, flushing after every attempt; the page must
show each new count without being reloaded.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tasks
from pylo import Pylo

try:
    from playwright.sync_api import Page, sync_playwright
except ImportError:  # pragma: no cover - the test extra installs it
    if os.environ.get("CI", "").lower() == "true":
        raise
    pytest.skip("playwright is not installed (pip install -e '.[test]')", allow_module_level=True)

WIDE, NARROW = {"width": 1280, "height": 800}, {"width": 420, "height": 800}


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Any]:
    with sync_playwright() as pw:
        # --no-sandbox: CI containers run as root, where chromium's sandbox cannot start.
        b = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Page]:
    context = browser.new_context(viewport=WIDE)
    p = context.new_page()
    problems: list[str] = []
    p.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    p.on("pageerror", lambda e: problems.append(str(e)))
    yield p
    context.close()
    assert not problems, problems  # a script error or a CSP violation


def shoot(page: Page, tmp_path: Path, name: str) -> None:
    """A screenshot in the test's folder, and in $PYLO_SCREENSHOTS when set (to look at them)."""
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    if os.environ.get("PYLO_SCREENSHOTS"):
        os.makedirs(os.environ["PYLO_SCREENSHOTS"], exist_ok=True)
        shutil.copy(path, os.environ["PYLO_SCREENSHOTS"])


def fits(page: Page) -> bool:
    """Nothing sticks out sideways: the page needs no horizontal scrolling."""
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_executions_execution_and_tracebacks(tmp_path: Path, serve: Any, page: Page) -> None:
    url = str(tmp_path / "store")
    pylo = Pylo.local_multithread(url, number_of_workers=2, max_worker_failures=3)
    first = pylo.start_from_scratch(range(60), tasks.fail_multiples_of_7, progress=False)
    pylo.start_from_past_execution(first, tasks.noop, progress=False)
    mixed = [{"name": f"n{i}", "bad": i % 4 == 0} for i in range(12)]
    flagged = Pylo.local_multithread(url, number_of_workers=2).start_from_scratch(mixed, tasks.fail_flagged,
                                                                                  progress=False)
    view = serve(url)

    page.goto(view.url + "/")
    assert page.locator("table.executions tbody tr").count() == 3
    assert page.locator(".status-gave_up").count() == 1 and page.locator(".status-finished").count() == 1
    shoot(page, tmp_path, "executions-1280")
    assert fits(page)

    page.fill("#q", "fail_flagged")  # the filter box narrows the rows as one types
    assert page.locator("table.executions tbody tr:visible").count() == 1
    page.fill("#q", "")

    page.click(f"table.executions a[href='/executions/{first}'] >> nth=0")
    page.wait_for_url(f"**/executions/{first}")
    assert page.locator("section.live [data-field=status]").inner_text() == "gave up"
    assert page.locator("tr[data-worker] >> text=gave up").count() >= 1
    groups = page.locator("details.group")
    assert groups.count() == 1 and "ValueError" in groups.first.locator("summary").inner_text()
    traceback = groups.first.locator("pre.traceback")
    assert not traceback.is_visible()
    groups.first.locator("summary").click()
    assert traceback.is_visible() and "fail_multiples_of_7" in traceback.inner_text()
    assert "pylo resume" in page.locator("#line-resume").inner_text()
    shoot(page, tmp_path, "execution-1280")
    assert fits(page)

    page.goto(f"{view.url}/executions/{flagged}")
    assert "KeyError" in page.locator("details.group summary").first.inner_text()
    page.set_viewport_size(NARROW)
    page.locator("details.group summary").first.click()
    shoot(page, tmp_path, "execution-420")
    assert fits(page)
    page.goto(view.url + "/")
    shoot(page, tmp_path, "executions-420")
    assert fits(page)


def test_counts_of_a_running_execution_change_without_reloading(tmp_path: Path, serve: Any, page: Page) -> None:
    url = str(tmp_path / "store")
    gate = threading.Semaphore(0)

    def gated(x: int) -> None:
        assert gate.acquire(timeout=60)
        if x == 2:
            raise ValueError(f"bad input {x}")

    pylo = Pylo.local_multithread(url, number_of_workers=1, task_executions_before_flush=1)
    run = pylo.submit(range(5), gated)
    try:
        view = serve(url, refresh=0.2)
        page.goto(view.url + "/")  # the list: the running row follows its counts
        cell = f"tr[data-live-url$='{run.id}'] [data-field=finished]"
        assert page.locator(cell).inner_text() == "0"
        assert "update every 0.2 s" in page.locator("[data-rows-note]").inner_text()
        gate.release()
        page.wait_for_function("(sel) => document.querySelector(sel).textContent === '1'", arg=cell,
                               timeout=30_000)

        page.goto(f"{view.url}/executions/{run.id}")
        assert page.locator("section.live [data-field=status]").inner_text() == "running"
        assert page.locator("dd[data-field=finished]").inner_text() == "1"
        assert "updates every 0.2 s" in page.locator("[data-live-note]").inner_text()
        page.evaluate("window.notReloaded = true")

        for finished, failed in [(2, 0), (2, 1)]:
            gate.release()
            page.wait_for_function(
                "([f, x]) => document.querySelector('dd[data-field=finished]').textContent === String(f)"
                " && document.querySelector('dd[data-field=failed]').textContent === String(x)",
                arg=[finished, failed], timeout=30_000,
            )
            assert page.locator("tr[data-worker='0'] [data-field=finished]").inner_text() == str(finished)
        assert page.evaluate("window.notReloaded") is True
        assert float(page.locator("svg.bar rect.finished").get_attribute("width") or 0) == pytest.approx(40.0)
        shoot(page, tmp_path, "running-1280")

        gate.release(2)
        run.wait(60)
        page.wait_for_function(
            "() => document.querySelector('section.live [data-field=status]').textContent === 'failed inputs'",
            timeout=30_000,
        )
        assert "Live updates stopped" in page.locator("[data-live-note]").inner_text()
        assert page.locator("dd[data-field=finished]").inner_text() == "4"
        assert page.evaluate("window.notReloaded") is True
    finally:
        gate.release(5)
        run.wait(60)
        pylo.close()


def test_the_pages_work_without_javascript(tmp_path: Path, serve: Any, browser: Any) -> None:
    """The static parts need no script: the table, the filter (a form), the tracebacks
    (``<details>``); with scripts off the page says how to see new counts."""
    url = str(tmp_path / "store")
    eid = Pylo.local_multithread(url, number_of_workers=1).start_from_scratch(range(10), tasks.fail_multiples_of_7,
                                                                              progress=False)
    Pylo.local_multithread(url, number_of_workers=1).start_from_scratch(range(3), tasks.noop, progress=False)
    view = serve(url)
    context = browser.new_context(viewport=WIDE, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(view.url + "/")
        page.fill("#q", "fail_multiples")
        page.press("#q", "Enter")
        page.wait_for_url("**/?q=fail_multiples")
        assert page.locator("table.executions tbody tr").count() == 1
        page.click(f"a[href='/executions/{eid}'] >> nth=0")
        page.locator("details.group summary").first.click()
        assert page.locator("pre.traceback").first.is_visible()
        assert "reload to update" in page.content()
    finally:
        context.close()


def test_jobs_page(tmp_path: Path, serve: Any, page: Page) -> None:
    from pylo.conditions import AfterAnother
    from pylo.engine import Engine, ThreadJob

    store = tmp_path / "store"
    with Engine(store=store) as engine:
        first = ThreadJob(tasks.noop, (1,), name="download")
        second = ThreadJob(tasks.always_fail, ("x",), name="transform", condition=AfterAnother(first.id))
        for job in (first, second):
            engine.submit(job)
        engine.wait()
    view = serve(store)
    page.goto(view.url + "/jobs")
    assert page.locator("table.jobs tbody tr").count() == 2
    assert page.locator("table.jobs .status-failed").count() == 1
    shoot(page, tmp_path, "jobs-1280")
    assert fits(page)
    page.set_viewport_size(NARROW)
    shoot(page, tmp_path, "jobs-420")
    assert fits(page)


def test_the_pictures_follow_a_running_execution(tmp_path: Path, serve: Any, page: Page) -> None:
    """Throughput, ETA and the workers' timeline are drawn by the server and follow the run
    without a reload; a worker that gives up is marked; they fit a phone's width."""
    url = str(tmp_path / "store")
    gate = threading.Semaphore(0)

    def gated(x: int) -> None:
        assert gate.acquire(timeout=60)
        if x >= 3:
            raise ValueError(f"bad input {x}")

    pylo = Pylo.local_multithread(url, number_of_workers=1, task_executions_before_flush=1, max_worker_failures=1)
    run = pylo.submit(range(8), gated)
    try:
        gate.release()
        view = serve(url, refresh=0.2)
        page.goto(f"{view.url}/executions/{run.id}")
        flushes = "document.querySelectorAll('[data-picture=timeline] g[data-role=flush]').length"
        page.wait_for_function(f"() => {flushes} >= 1", timeout=30_000)
        page.evaluate("window.notReloaded = true")
        headline = page.locator("[data-picture=throughput] [data-role=headline]")
        assert "of 8 concluded, ETA" in (headline.text_content() or "")

        gate.release(2)  # flushes that queue up behind a write are written together: count inputs
        page.wait_for_function(
            "() => document.querySelector('[data-picture=throughput] [data-role=headline]')"
            ".textContent.includes(', 3 of 8 concluded')", timeout=30_000,
        )
        assert page.locator("[data-picture=timeline] g[data-kind=failed]").count() == 0
        shoot(page, tmp_path, "pictures-running-1280")

        gate.release(5)  # 3 and 4 fail: past its budget of one the worker gives up
        run.wait(60)
        page.wait_for_function(
            "() => document.querySelectorAll('[data-picture=timeline] g[data-role=gave-up]').length === 1",
            timeout=30_000,
        )
        assert page.locator("[data-picture=timeline] g[data-kind=failed]").count() >= 1
        assert "inputs concluded in" in (headline.text_content() or "")
        assert page.evaluate("window.notReloaded") is True
        page.locator("section.pictures").scroll_into_view_if_needed()
        shoot(page, tmp_path, "pictures-ended-1280")
        assert fits(page)
        page.set_viewport_size(NARROW)
        page.locator("section.pictures").scroll_into_view_if_needed()
        shoot(page, tmp_path, "pictures-420")
        assert fits(page)
    finally:
        gate.release(8)
        run.wait(60)
        pylo.close()
