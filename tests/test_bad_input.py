"""Bad input: each a clear, typed error naming the problem, raised before any work starts (no
task call, no execution left in the store); and the security promises (ids checked before any
path, credentials never in the store or the logs, status readable without unpickling)."""

from __future__ import annotations

import functools
import logging
import os
import pickle
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest

import tasks
from pylo import (
    ExecutionNotFound,
    InvalidArgument,
    Pylo,
    TaskNotSerializable,
)

MISSING = "20200101T000000000000Z-00000000"


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def pylo(store: Path) -> Pylo:
    return Pylo.local_multithread(str(store), number_of_workers=2, block_size=3)


def _nothing_ran(pylo: Pylo, calls: Path | None = None) -> None:
    assert pylo.executions() == []
    root = Path(pylo.store.files.root)
    assert not root.exists() or os.listdir(root) == []  # not even a partial execution
    if calls is not None:
        assert tasks.count_calls(str(calls)) == {}


# -- the task and the inputs ---------------------------------------------------------------------


@pytest.mark.parametrize("task", [None, 42, "tasks.noop"])
def test_a_task_that_is_not_callable(pylo: Pylo, task: Any) -> None:
    with pytest.raises(InvalidArgument, match="task must be callable"):
        pylo.start_from_scratch(range(3), task, progress=False)
    _nothing_ran(pylo)


@pytest.mark.parametrize("inputs", [42, None, 3.5])
def test_inputs_that_are_not_iterable(pylo: Pylo, inputs: Any) -> None:
    with pytest.raises(InvalidArgument, match="inputs must be iterable"):
        pylo.submit(inputs, tasks.noop)
    _nothing_ran(pylo)


@pytest.mark.parametrize("as_generator", [False, True])
def test_an_input_that_cannot_be_serialized_is_named_by_position(pylo: Pylo, tmp_path: Path, as_generator: bool) -> None:
    calls = tmp_path / "calls"
    calls.mkdir()
    inputs: Any = [0, 1, 2, 3, 4, 5, 6, threading.Lock(), 8]  # position 7, in the third block
    if as_generator:
        inputs = (x for x in inputs)
    with pytest.raises(TaskNotSerializable, match="input at position 7 cannot be serialized") as info:
        pylo.start_from_scratch(inputs, functools.partial(tasks.log_call, str(calls)), progress=False)
    assert isinstance(info.value, TypeError) and isinstance(info.value, InvalidArgument)
    _nothing_ran(pylo, calls)  # the two blocks written before it were removed


def test_a_task_that_cannot_be_pickled_for_dask(dask_client: Any, store: Path) -> None:
    lock = threading.Lock()
    pylo = Pylo.dask(dask_client, str(store))
    with pytest.raises(TaskNotSerializable, match="the task cannot be pickled for Dask"):
        pylo.start_from_scratch(range(3), lambda x: lock.locked(), progress=False)
    _nothing_ran(pylo)


def test_a_memory_store_with_dask_worker_processes(dask_client: Any) -> None:
    pylo = Pylo.dask(dask_client, f"memory://pylo-{uuid.uuid4().hex}")
    with pytest.raises(InvalidArgument, match="memory:// store lives in this process only"):
        pylo.start_from_scratch(range(3), tasks.noop, progress=False)
    assert pylo.executions() == []  # refused before anything was planned


# -- config values ------------------------------------------------------------------------------

BAD_CONFIG = [
    ("number_of_workers", 0), ("number_of_workers", -2), ("number_of_workers", 1.5), ("number_of_workers", True),
    ("max_worker_failures", -1), ("retries", -1), ("task_executions_before_flush", 0),
    ("task_executions_before_flush", -5), ("flush_interval", -1.0), ("flush_interval", 0),
    ("flush_interval", float("nan")), ("retry_delay", -0.1), ("retry_max_delay", -1), ("retry_backoff", 0.5),
    ("retry_jitter", 1.5), ("block_size", 0), ("timeout", 0), ("timeout", -3), ("store_exceptions", "yes"), ("store_results", 1),
]


@pytest.mark.parametrize(("name", "value"), BAD_CONFIG, ids=[f"{n}={v!r}" for n, v in BAD_CONFIG])
def test_an_invalid_config_value_is_refused_naming_it(store: Path, name: str, value: Any) -> None:
    with pytest.raises(InvalidArgument, match=name):
        Pylo.local_multithread(str(store), **{name: value})
    assert not store.exists()


def test_an_unknown_option_is_refused(store: Path) -> None:
    with pytest.raises(InvalidArgument, match="unknown option.*retires") as info:
        Pylo.local_multithread(str(store), retires=3)  # type: ignore[call-arg]
    assert not store.exists()
    known = str(info.value).split("known: ", 1)[1]
    for name in ("number_of_workers", "max_worker_failures", "task_executions_before_flush",
                 "store_exceptions", "storage_options", "retries", "timeout", "block_size"):
        assert name in known


@pytest.mark.parametrize(("inputs", "hint"), [
    ("abc", r"pass \['abc'\]"),
    (b"abc", r"pass \[b'abc'\]"),
    (bytearray(b"ab"), "bytearray"),
    ({"a": 1, "b": 2}, r"list\(d.items\(\)\)"),
])
def test_a_string_or_a_mapping_as_inputs_is_refused(pylo: Pylo, tmp_path: Path, inputs: Any, hint: str) -> None:
    calls = tmp_path / "calls"
    calls.mkdir()
    with pytest.raises(InvalidArgument, match=hint):
        pylo.submit(inputs, functools.partial(tasks.log_call, str(calls)))
    _nothing_ran(pylo, calls)


def _two_required(a: int, b: int) -> None:
    pass


def _keyword_only(*, x: int) -> None:
    pass


@pytest.mark.parametrize("task", [_two_required, _keyword_only, lambda: None])
def test_a_task_that_cannot_take_one_input_is_refused_before_the_run(pylo: Pylo, task: Any) -> None:
    with pytest.raises(InvalidArgument, match="cannot be called with one input"):
        pylo.start_from_scratch(range(3), task, progress=False)
    _nothing_ran(pylo)


@pytest.mark.parametrize("task", [functools.partial(_two_required, 1), print, lambda x, y=2: None, tasks.noop])
def test_tasks_that_take_one_input_pass_the_check(pylo: Pylo, task: Any) -> None:
    eid = pylo.start_from_scratch([1], task, progress=False)
    assert pylo.get_state(eid) == ([1], [])  # accepted, and called with the input: it finished
    assert pylo.get_exceptions(eid) == []


def test_invalid_config_on_dask_too(dask_client: Any, store: Path) -> None:
    with pytest.raises(InvalidArgument, match="task_executions_before_flush"):
        Pylo.dask(dask_client, str(store), task_executions_before_flush=0)
    assert not store.exists()


# -- the store ----------------------------------------------------------------------------------


def test_an_unknown_fsspec_protocol() -> None:
    with pytest.raises(InvalidArgument, match="nosuchproto"):
        Pylo.local_multithread("nosuchproto://bucket/prefix")


def test_a_store_path_that_is_a_file(tmp_path: Path) -> None:
    path = tmp_path / "a-file"
    path.write_text("not a directory")
    with pytest.raises(InvalidArgument, match="is a file"):
        Pylo.local_multithread(str(path))
    assert path.read_text() == "not a directory"


@pytest.mark.parametrize("url", ["s3:/bucket/prefix", "s3:bucket", "memory:/x", "gcs//bucket", "file:/tmp/x"])
def test_a_mistyped_url_is_refused_not_made_a_local_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InvalidArgument, match="mistyped URL"):
        Pylo.local_multithread(url)
    assert os.listdir(tmp_path) == []


def test_a_local_folder_with_a_colon_is_still_a_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    pylo = Pylo.local_multithread("./s3:/x", number_of_workers=1)
    pylo.start_from_scratch([1], tasks.noop, progress=False)
    assert (tmp_path / "s3:" / "x").is_dir()


@pytest.mark.parametrize(("options", "message"), [
    ("anon=true", "storage_options must be a dict"),
    (5, "storage_options must be a dict"),
    (["anon"], "storage_options must be a dict"),
    ({"client_kwargs": 5}, "client_kwargs must be a dict"),
    ({"config_kwargs": "x"}, "config_kwargs must be a dict"),
    ({1: 2}, "keys must be strings"),
])
def test_storage_options_of_the_wrong_type(tmp_path: Path, options: Any, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        Pylo.local_multithread(str(tmp_path / "s"), storage_options=options)
    assert not (tmp_path / "s").exists()
    with pytest.raises(InvalidArgument, match=message):
        Pylo.local_multithread("s3://bucket/prefix", storage_options=options)


@pytest.mark.parametrize("store", [None, "", 42])
def test_a_store_that_is_not_a_path(store: Any) -> None:
    with pytest.raises(InvalidArgument, match="store must be a path"):
        Pylo.local_multithread(store)


def test_a_store_path_given_as_pathlike(tmp_path: Path) -> None:
    pylo = Pylo.local_multithread(tmp_path / "store", number_of_workers=1)
    assert pylo.get_state(pylo.start_from_scratch(range(3), tasks.noop, progress=False)) == ([0, 1, 2], [])


# -- execution ids ------------------------------------------------------------------------------

READERS = {
    "get_state": lambda p, e: p.get_state(e),
    "get_exceptions": lambda p, e: p.get_exceptions(e),
    "summary": lambda p, e: p.summary(e),
    "verify": lambda p, e: p.verify(e),
    "resume": lambda p, e: p.resume(e, tasks.noop),
    "start_from_past_execution": lambda p, e: p.start_from_past_execution(e, tasks.noop, progress=False),
}


@pytest.mark.parametrize("reader", list(READERS))
def test_an_execution_that_does_not_exist(pylo: Pylo, reader: str) -> None:
    with pytest.raises(ExecutionNotFound, match=MISSING):
        READERS[reader](pylo, MISSING)
    _nothing_ran(pylo)


BAD_IDS = ["", "../x", "a/b", "..", "/etc", f"{MISSING}/../x", f"{MISSING}\n", "20200101T000000000000Z-ABCDEF12", "2020-01-01", None, 7]


@pytest.mark.parametrize("reader", list(READERS))
@pytest.mark.parametrize("bad", BAD_IDS, ids=[repr(b) for b in BAD_IDS])
def test_a_malformed_execution_id_never_reaches_a_path(pylo: Pylo, tmp_path: Path, reader: str, bad: Any) -> None:
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(InvalidArgument, match="not a pylo execution id"):
        READERS[reader](pylo, bad)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


# -- what a task raises -------------------------------------------------------------------------


class NastyError(Exception):
    """Its message cannot be printed and it cannot be pickled."""

    def __str__(self) -> str:
        raise RuntimeError("no message for you")

    def __reduce__(self) -> Any:
        raise TypeError("no pickle for you")


def raise_nasty(x: int) -> None:
    if x % 2:
        raise NastyError()


def test_exceptions_that_cannot_be_printed_pickled_or_loaded_are_kept_as_text(pylo: Pylo) -> None:
    eid = pylo.start_from_scratch(range(6), raise_nasty, progress=False)
    assert pylo.get_state(eid) == ([0, 2, 4], [1, 3, 5])  # the workers lived on
    records = pylo.get_exceptions(eid)
    assert [r.input for r in records] == [1, 3, 5]
    assert all(r.exception is None and r.message == "<unprintable NastyError>" for r in records)
    assert all(r.type.endswith("NastyError") and "raise_nasty" in r.traceback for r in records)
    for task in (tasks.raise_unloadable, tasks.raise_unpicklable, tasks.raise_with_args):
        eid = pylo.start_from_scratch([1, 2], task, progress=False)
        assert [r.input for r in pylo.get_exceptions(eid)] == [1, 2]


def test_unhashable_and_equal_inputs_are_told_apart_by_position(pylo: Pylo) -> None:
    inputs: list[Any] = [[1], {"name": "a", "bad": True}, [1], {"name": "a", "bad": True}, {"name": "a"}, set()]

    def task(x: Any) -> None:
        if isinstance(x, dict):
            tasks.fail_flagged(x)

    eid = pylo.start_from_scratch(inputs, task, progress=False)
    finished, unfinished = pylo.get_state(eid)
    assert finished == [[1], [1], {"name": "a"}, set()]
    assert unfinished == [inputs[1], inputs[3]]
    assert [r.position for r in pylo.get_exceptions(eid)] == [1, 3]
    resumed = pylo.start_from_past_execution(eid, tasks.noop, progress=False)
    assert pylo.get_state(resumed) == (inputs, [])


# -- security -----------------------------------------------------------------------------------


def test_credentials_never_reach_the_store_or_the_logs(moto_server: Any, caplog: pytest.LogCaptureFixture) -> None:
    key, secret = f"AKIA{uuid.uuid4().hex[:16].upper()}", f"secret-{uuid.uuid4().hex}"
    options = {"key": key, "secret": secret,
               "client_kwargs": {"endpoint_url": moto_server.endpoint, "region_name": "us-east-1"}}
    url = f"s3://{moto_server.new_bucket()}/store"
    caplog.set_level(logging.DEBUG, logger="pylo")
    pylo = Pylo.local_multithread(url, number_of_workers=2, storage_options=options, retries=1)
    eid = pylo.start_from_scratch(range(20), tasks.fail_multiples_of_7, progress=False)
    pylo.start_from_past_execution(eid, tasks.noop, progress=False)
    pylo.summary(eid), pylo.verify(eid), pylo.get_exceptions(eid)
    files = pylo.store.files
    everything = files.get_many(files.find(files.root))
    assert len(everything) > 10
    for path, data in everything.items():
        assert key.encode() not in data and secret.encode() not in data, path
    pylo_logs = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("pylo"))
    assert pylo_logs and key not in pylo_logs and secret not in pylo_logs
    assert secret not in repr(pylo) and secret not in repr(pylo.store)


def test_status_and_verify_never_unpickle(pylo: Pylo, monkeypatch: pytest.MonkeyPatch) -> None:
    eid = pylo.start_from_scratch(range(10), tasks.fail_multiples_of_7, progress=False)

    def tripwire(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("unpickled something")

    monkeypatch.setattr(pickle, "loads", tripwire)
    monkeypatch.setattr(pickle, "load", tripwire)
    summary = pylo.summary(eid)
    assert (summary.finished, summary.failed) == (8, 2)
    assert pylo.verify(eid).ok
    assert pylo.executions() == [eid]



def _refuse_to_load() -> None:
    raise RuntimeError("this input cannot be loaded back")


class PicklesButDoesNotLoad:
    """Pickles fine; loading it runs a function that raises."""

    def __reduce__(self) -> Any:
        return (_refuse_to_load, ())


def test_an_input_that_pickles_but_does_not_load_back_is_refused_before_any_work(pylo: Pylo, tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    calls.mkdir()
    inputs = [0, 1, 2, PicklesButDoesNotLoad(), 4, 5]
    with pytest.raises(TaskNotSerializable, match="input at position 3 cannot be serialized and loaded back"):
        pylo.start_from_scratch(inputs, functools.partial(tasks.log_call, str(calls)), progress=False)
    _nothing_ran(pylo, calls)  # otherwise the execution could never be read or resumed


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"only": ()}, "only=()"), ({"only": 42}, "only must be"), ({"only": (ValueError, 3)}, "only= expects"),
    ({"only": [ValueError]}, "only must be"), ({"pending": "no"}, "pending must be a bool"),
])
def test_a_bad_rerun_selection_is_refused_before_any_work(pylo: Pylo, kwargs: dict[str, Any], message: str) -> None:
    eid = pylo.start_from_scratch(range(9), tasks.fail_multiples_of_7, progress=False)
    with pytest.raises(InvalidArgument, match=message):
        pylo.start_from_past_execution(eid, tasks.noop, progress=False, **kwargs)
    assert pylo.executions() == [eid]
    with pytest.raises(InvalidArgument, match="only"):
        pylo.get_exceptions(eid, only=42)  # type: ignore[arg-type]


@pytest.mark.parametrize("reader", ["get_results", "results_bag", "exceptions_frame"])
def test_results_readers_refuse_unknown_and_malformed_ids(pylo: Pylo, reader: str) -> None:
    with pytest.raises(ExecutionNotFound, match=MISSING):
        getattr(pylo, reader)(MISSING)
    with pytest.raises(InvalidArgument, match="not a pylo execution id"):
        getattr(pylo, reader)("../x")
    _nothing_ran(pylo)


# -- shortened ids -------------------------------------------------------------------------------


def test_an_id_may_be_shortened_to_a_unique_prefix_or_its_random_part(pylo: Pylo) -> None:
    first = pylo.start_from_scratch(range(7), tasks.fail_multiples_of_7, progress=False)
    second = pylo.start_from_scratch(range(3), tasks.noop, progress=False)
    common = next(i for i in range(len(first)) if first[i] != second[i])
    for short in (first[: common + 1], first[-8:], first):
        assert pylo.summary(short).execution_id == first
        assert pylo.get_state(short) == pylo.get_state(first)
        assert len(pylo.get_exceptions(short)) == 1 and pylo.verify(short).ok
    resumed = pylo.start_from_past_execution(first[-8:], tasks.noop, progress=False)
    assert pylo.summary(resumed).parent == first
    with pytest.raises(InvalidArgument, match="names 3 executions.*give more of the id"):
        pylo.summary(first[:4])
    with pytest.raises(ExecutionNotFound, match="no execution 1999"):
        pylo.summary("1999")


# -- a script without the main guard ---------------------------------------------------------------

UNGUARDED = """
from pylo import Pylo

def work():
    return Pylo.dask(None, {store!r}, retries=-1)   # retries=-1: refused after the guard check

{call}
"""


@pytest.mark.parametrize(("call", "refused"), [
    ("work()", True),
    ("pylo = Pylo.dask(None, 'store', retries=-1)", True),
    ("if __name__ == '__main__':\n    work()", False),
    ("if '__main__' == __name__:\n    x = 1\n    work()", False),
])
def test_a_local_cluster_from_an_unguarded_script_is_refused_clearly(tmp_path: Path, call: str, refused: bool) -> None:
    import subprocess
    import sys

    script = tmp_path / "job.py"
    script.write_text(UNGUARDED.format(store=str(tmp_path / "store"), call=call))
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 1
    assert "Nanny" not in result.stderr and len(result.stderr.splitlines()) < 30, result.stderr
    if refused:
        assert 'if __name__ == "__main__":' in result.stderr and "job.py, line" in result.stderr
    else:
        assert "retries must be >= 0" in result.stderr
    assert not (tmp_path / "store").exists()


# -- a store that is not there --------------------------------------------------------------------


def _store_retries(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "pylo.store._fs" and "retry" in r.getMessage()]


def test_a_missing_bucket_is_one_typed_error_naming_the_store(
    moto_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from pylo import StoreNotFound, StoreUnreachable

    url = f"s3://no-such-bucket-{uuid.uuid4().hex[:8]}/store"
    pylo = Pylo.local_multithread(url, storage_options=moto_server.options(), number_of_workers=1)
    with caplog.at_level(logging.WARNING, logger="pylo"), pytest.raises(StoreNotFound) as info:
        pylo.start_from_scratch(range(3), tasks.noop, progress=False)
    assert url in str(info.value) and "does not exist" in str(info.value)
    assert isinstance(info.value, StoreUnreachable) and isinstance(info.value, LookupError)
    assert _store_retries(caplog) == []  # a permanent answer: not retried


def test_an_unreachable_endpoint_is_one_typed_error_within_the_retry_budget(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import re
    import socket

    from pylo import StoreUnreachable

    with socket.socket() as sock:  # a port nobody listens on: connections are refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    options = {"key": "k", "secret": "s", "client_kwargs": {"endpoint_url": f"http://127.0.0.1:{port}"}}
    pylo = Pylo.local_multithread("s3://bucket/store", storage_options=options, store_retry_seconds=1.0)
    with caplog.at_level(logging.WARNING, logger="pylo"), pytest.raises(StoreUnreachable) as info:
        pylo.executions()  # one listing
    message = str(info.value)
    assert "s3://bucket/store" in message
    attempts, seconds = re.search(r"after (\d+) attempts in ([\d.]+)s", message).groups()  # type: ignore[union-attr]
    # botocore's own retries are off (they made one attempt last ~8 s): the attempts are pylo's,
    # each logged, and they stop once the budget is spent (was 61-70 s, silent).
    assert int(attempts) >= 3 and len(_store_retries(caplog)) == int(attempts) - 1
    assert float(seconds) < 10


@pytest.mark.parametrize("bad", [-1, float("inf"), True, "6"])
def test_the_retry_budget_is_checked(tmp_path: Path, bad: Any) -> None:
    with pytest.raises(InvalidArgument, match="store_retry_seconds"):
        Pylo.local_multithread(str(tmp_path / "s"), store_retry_seconds=bad)
    assert not (tmp_path / "s").exists()
