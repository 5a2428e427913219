"""Job records in the store, and an engine restarted on it (executor-engine reloaded pending and
running jobs but never scheduled them again)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from typing import Any

import pytest

import engine_tasks
from engine_helpers import wait_for
from pylo import Status
from pylo.conditions import AfterAnother
from pylo.engine import Engine, ProcessJob, ThreadJob


def read_records(store: Any) -> dict[str, dict[str, Any]]:
    folder = os.path.join(store, "jobs")
    out = {}
    for name in os.listdir(folder) if os.path.isdir(folder) else []:
        if name.endswith(".json"):
            with open(os.path.join(folder, name)) as fh:
                data = json.load(fh)
            out[data["id"]] = data
    return out


def test_records_are_written_as_json(tmp_path: Any) -> None:
    store = tmp_path / "store"
    with Engine(store=store) as eng:
        ok = ThreadJob(engine_tasks.add, (1, 2), name="adding")
        bad = ThreadJob(engine_tasks.boom, ("kaput",))
        after = ThreadJob(engine_tasks.add, (0, 0), condition=AfterAnother(ok.id, statuses=["failed"]))
        for job in (ok, bad, after):
            eng.submit(job)
        eng.wait(30)
        listed = {r.id: r for r in eng.records()}
    records = read_records(store)
    assert records[ok.id]["status"] == "done" and records[ok.id]["name"] == "adding"
    assert records[ok.id]["kind"] == "thread" and records[ok.id]["func"] == "engine_tasks:add"
    assert records[ok.id]["started"] <= records[ok.id]["stopped"]
    assert records[bad.id]["status"] == "failed" and records[bad.id]["error"] == "ValueError: kaput"
    assert records[after.id]["status"] == "cancelled" and "can no longer be satisfied" in records[after.id]["error"]
    assert records[after.id]["condition"] == f"AfterAnother({ok.id!r}, statuses=failed)"
    assert listed[bad.id].status is Status.FAILED
    assert sorted(os.listdir(store)) == ["jobs"]


def test_records_name_public_things_only(tmp_path: Any) -> None:
    """A record is a format: it never names a private module or class of pylo."""
    import pickle
    import pickletools

    from pylo.engine import SubprocessJob

    store = tmp_path / "store"
    with Engine(store=store) as eng:
        jobs = [ThreadJob(engine_tasks.add, (1, 2)), SubprocessJob("true"), ProcessJob(engine_tasks.add, (3, 4))]
        eng.submit(*jobs)
        eng.wait(60)
    for path in (store / "jobs").iterdir():
        raw = json.loads(path.read_text())
        assert "pylo.engine._" not in path.read_text()
        if raw["spec"] is not None:
            import base64

            spec = base64.b64decode(raw["spec"])
            names = [arg for op, arg, _ in pickletools.genops(spec) if op.name in ("GLOBAL", "STACK_GLOBAL", "SHORT_BINUNICODE", "BINUNICODE")]
            assert not [n for n in names if isinstance(n, str) and n.startswith("pylo.engine._")], names
            assert type(pickle.loads(spec)[0]).__name__ == "type"


def test_records_in_an_fsspec_store() -> None:
    import uuid

    url = f"memory://pylo-engine-{uuid.uuid4().hex}"
    with Engine(store=url) as eng:
        job = ThreadJob(engine_tasks.add, (2, 3))
        eng.submit(job).result(30)
    with Engine(store=url) as again:
        (record,) = again.records()
        assert (record.id, record.status, record.func) == (job.id, Status.DONE, "engine_tasks:add")


def test_restart_lists_history_and_resubmits_unfinished(tmp_path: Any) -> None:
    """Bug 12: jobs persisted as pending or running were reloaded but never rescheduled, and
    wait() then hung."""
    store, release = tmp_path / "store", tmp_path / "release"
    with Engine(store=store) as eng:
        done = ThreadJob(engine_tasks.add, (1, 1))
        eng.submit(done).result(30)
        running = ThreadJob(engine_tasks.wait_for_file, (str(release),))
        waiting = ThreadJob(engine_tasks.add, (2, 2), condition=AfterAnother(running.id, statuses=["done"]))
        stranded = ThreadJob(lambda: None, condition=AfterAnother(running.id))  # a lambda: not importable
        for job in (running, waiting, stranded):
            eng.submit(job)
        wait_for(lambda: read_records(store).get(running.id, {}).get("status") == "running")
    release.touch()
    with Engine(store=store) as again:
        again.wait(30)
        assert again.get_job(running.id).result() == str(release)
        assert again.get_job(waiting.id).result() == 4
        by_id = {r.id: r for r in again.records()}
        assert by_id[done.id].status is Status.DONE
        assert by_id[stranded.id].status is Status.FAILED and "not re-submitted" in str(by_id[stranded.id].error)
    assert read_records(store)[waiting.id]["status"] == "done"


SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
import engine_tasks
from pylo.engine import Engine, ProcessJob, ThreadJob
from pylo.conditions import AfterAnother

engine = Engine(store={store!r})
engine.start()
first = ThreadJob(engine_tasks.wait_for_file, ({release!r},))
second = ProcessJob(engine_tasks.add, (20, 22), condition=AfterAnother(first.id, statuses=["done"]))
engine.submit(first)
engine.submit(second)
print(first.id, second.id, flush=True)
engine.wait()
"""


@pytest.mark.slow
def test_resubmitted_after_the_engine_process_is_killed(tmp_path: Any) -> None:
    store, release = tmp_path / "store", tmp_path / "release"
    script = SCRIPT.format(tests=os.path.dirname(engine_tasks.__file__), store=str(store), release=str(release))
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        first, second = proc.stdout.readline().split()
        wait_for(lambda: read_records(store).get(first, {}).get("status") == "running", timeout=60)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
        if proc.stdout is not None:
            proc.stdout.close()
    assert read_records(store)[second]["status"] == "pending"
    release.touch()
    with Engine(store=store) as eng:
        eng.wait(60)
        assert eng.get_job(second).result() == 42
    assert {r["status"] for r in read_records(store).values()} == {"done"}


def test_the_record_writer_logs_a_failed_write_and_drops_writes_once_muted(
    tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from pylo.engine._job_records import RecordStore, RecordWriter, record_of

    store = tmp_path / "store"
    writer = RecordWriter(RecordStore(store))
    first, second = ThreadJob(engine_tasks.add, (1, 2)), ThreadJob(engine_tasks.add, (3, 4))
    writer.write(record_of(first), None)
    writer.mute()  # a stopping engine: the records of the jobs it cancels stay as they were
    writer.write(record_of(second), None)
    writer.shutdown()
    assert set(read_records(store)) == {first.id}

    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / "jobs").write_text("a file where the jobs folder should be")
    writer = RecordWriter(RecordStore(blocked))
    writer.write(record_of(first), None)  # fails on the writer's thread: logged, not raised
    writer.shutdown()
    assert f"could not write the record of job {first.id}" in caplog.text


def test_the_record_writer_logs_a_bug_as_one_not_as_a_refused_write(
    tmp_path: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pylo.engine._job_records import RecordStore, RecordWriter, record_of

    def planted(*args: Any) -> None:
        raise KeyError("a planted bug")

    records = RecordStore(tmp_path / "store")
    monkeypatch.setattr(records, "write", planted)
    writer = RecordWriter(records)
    writer.write(record_of(ThreadJob(engine_tasks.add, (1, 2))), None)
    writer.shutdown()
    assert "writing a job record failed unexpectedly" in caplog.text and "a planted bug" in caplog.text
    assert "could not write the record" not in caplog.text
