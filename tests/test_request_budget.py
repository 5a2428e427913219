"""What a worker costs in store requests, counted by kind with an injected clock (no timing).

A worker-hour of 1 s tasks on an object store: the real task loop (its flushes) and the real
heartbeat (lease renewals, cancel polls) run against a store that counts each request it is
asked for, while a fake clock advances one second per task and fires what falls due. At the
defaults it must stay within one request every 5 s: 720 per worker-hour."""

from __future__ import annotations

import collections
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from pylo import Config, Pylo
from pylo._core.background_writes import BackgroundWrites
from pylo._core.block import BlockContext, run_block
from pylo._core.decide import WorkerTally
from pylo.store import BlockInfo, BlockState, Heartbeat, Store
from pylo.store._cadence import LOCAL, OBJECT_STORE

EID = "20261201T000000000000Z-0000abcd"
HOUR = 3600
BUDGET = 720  # one request every 5 s per worker


class FakeClock:
    """Monotonic seconds that only ``advance`` moves; each advance fires the ``due`` callback
    (the heartbeat's tick), as a timer would."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.due: Callable[[float], object] = lambda now: None

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.due(self.now)


def _kind(method: str, path: str) -> str:
    for part, kind in (("/leases/", "lease"), ("/progress/", "segment"), ("/cancel", "cancel"),
                       ("/errors/", "records"), ("/inputs/", "inputs")):
        if part in path:
            return f"{kind} {method}"
    return f"other {method}"


def count_requests(store: Store) -> collections.Counter[str]:
    """Count every request ``store`` makes from now on, by kind of object and method."""
    counts: collections.Counter[str] = collections.Counter()
    files = store.files
    for name, method in (("put", "PUT"), ("put_new", "PUT"), ("get", "GET"), ("exists", "HEAD"),
                         ("find_sized", "LIST"), ("listdir", "LIST")):
        original = getattr(files, name)

        def counted(path: str, *args: Any, _original: Any = original, _method: str = method, **kwargs: Any) -> Any:
            counts[_kind(_method, path)] += 1
            return _original(path, *args, **kwargs)

        setattr(files, name, counted)
    return counts


def worker_hour(config: Config, store: Store) -> collections.Counter[str]:
    """One worker running an hour of 1 s tasks that succeed; its store requests by kind."""
    clock = FakeClock()
    counts = count_requests(store)
    beat = Heartbeat(store, EID, "worker-0000", interval=config.lease_interval, poll=config.cancel_poll,
                     clock=clock.monotonic).begin()
    clock.due = beat.tick
    ctx = BlockContext(store, EID, lambda x: clock.advance(1.0), config, clock)
    info = BlockInfo(block=0, start=0, count=HOUR, worker=0)
    # Each flush written before the next task starts, as a PUT ends long before a 1 s task does
    # (in the background, with no real time passing, flushes would merge into a few writes).
    tally = run_block(ctx, info, WorkerTally(worker=0), stop=lambda: beat.cancelled,
                      start=(BlockState(), list(range(HOUR))), writes=BackgroundWrites(threads=0))
    beat.end()
    assert tally.finished == HOUR
    return counts


def test_a_worker_hour_of_slow_tasks_on_an_object_store_stays_within_the_budget() -> None:
    pylo = Pylo.local_multithread(f"memory://pylo-{uuid.uuid4().hex}", number_of_workers=1)
    assert not pylo.store.files.local  # an object store as far as the cadence goes
    counts = worker_hour(pylo.config, pylo.store)
    expected = OBJECT_STORE.requests_per_hour(task_seconds=1.0)
    assert abs(counts["segment PUT"] - expected["segment PUT"]) <= 1
    assert abs(counts["lease PUT"] - expected["lease PUT"]) <= 2  # besides, the first and the ended one
    assert abs(counts["cancel GET"] - expected["cancel GET"]) <= 1
    assert set(counts) == {"segment PUT", "lease PUT", "cancel GET"}, counts
    assert sum(counts.values()) <= BUDGET, counts


def test_the_budget_the_cadence_promises_is_within_one_request_every_5_s() -> None:
    assert sum(OBJECT_STORE.requests_per_hour(task_seconds=1.0).values()) == 600
    assert sum(OBJECT_STORE.requests_per_hour(task_seconds=60.0).values()) <= BUDGET
    assert OBJECT_STORE.lease_expiry == 80.0 and LOCAL.lease_expiry == 8.0


@pytest.mark.parametrize(("url", "cadence"), [("{tmp}/store", LOCAL), ("memory://pylo-{uid}", OBJECT_STORE)])
def test_each_store_gets_its_own_cadence_unless_the_caller_gives_one(url: str, cadence: Any, tmp_path: Any) -> None:
    url = url.format(tmp=tmp_path, uid=uuid.uuid4().hex)
    config = Pylo.local_multithread(url).config
    assert (config.flush_interval, config.lease_interval, config.cancel_poll) == (
        cadence.flush_interval, cadence.lease_interval, cadence.cancel_poll)
    given = Pylo.local_multithread(url, flush_interval=3.0, cancel_poll=0.5).config
    assert (given.flush_interval, given.lease_interval, given.cancel_poll) == (3.0, cadence.lease_interval, 0.5)
