"""The heartbeats of one process share their looks for an execution's cancel marker: a look
younger than a poll answers for all of them. On an injected clock, against a real local store."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from gates import SecondCaller

from pylo.store import Store
from pylo.store._heartbeat import Heartbeat

EID = "20261207T120000000000Z-0a0b0c0d"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _beats(tmp_path: Path, n: int, clock: Clock) -> tuple[Store, list[Heartbeat], list[int]]:
    store = Store(str(tmp_path / "store"))
    looks: list[int] = []
    real = store.cancel_requested

    def counted(eid: str) -> bool:
        looks.append(1)
        return real(eid)

    store.cancel_requested = counted  # type: ignore[method-assign]  # counts the reads it makes
    beats = [Heartbeat(store, EID, f"worker-{w:04d}", interval=2.0, poll=0.25, clock=clock).begin() for w in range(n)]
    return store, beats, looks


def test_workers_of_one_process_look_for_the_cancel_once_a_poll(tmp_path: Path) -> None:
    clock = Clock()
    store, beats, looks = _beats(tmp_path, 8, clock)
    for step in range(1, 11):  # ten polls
        clock.now = step * 0.25
        for beat in beats:
            beat.tick(clock.now)
    assert len(looks) == 10  # not 80: one look a poll answers for all eight
    store.request_cancel(EID)
    clock.now = 2.75
    for beat in beats:
        beat.tick(clock.now)
    assert all(beat.cancelled for beat in beats) and len(looks) == 11


def test_a_look_older_than_a_poll_is_not_taken_for_an_answer(tmp_path: Path) -> None:
    clock = Clock()
    store, (first, second), looks = _beats(tmp_path, 2, clock)
    clock.now = 0.25
    first.tick(clock.now)
    store.request_cancel(EID)
    clock.now = 0.5  # the first one's look is a poll old: the second looks itself
    second.tick(clock.now)
    assert second.cancelled and not first.cancelled and len(looks) == 2


@pytest.mark.parametrize("other_clock", [True, False])
def test_only_heartbeats_of_the_same_clock_share(tmp_path: Path, other_clock: bool) -> None:
    clock = Clock()
    _store, (first, second), looks = _beats(tmp_path, 2, clock)
    if other_clock:
        second.clock = Clock()  # another clock's "now" says nothing of this one's looks
        second.clock.now = 0.25  # type: ignore[attr-defined]
    clock.now = 0.25
    first.tick(0.25)
    second.tick(0.25)
    assert len(looks) == (2 if other_clock else 1)


def test_a_worker_that_took_anothers_look_looks_again_a_poll_after_that_look(tmp_path: Path) -> None:
    clock = Clock()
    store, (first, second), looks = _beats(tmp_path, 2, clock)
    clock.now = 0.25
    first.tick(0.25)  # looks
    clock.now = 0.375
    assert second.tick(0.375) == 0.5  # took the look of 0.25: its next is due a poll after it
    store.request_cancel(EID)
    clock.now = 0.5
    second.tick(0.5)  # the look of 0.25 is a poll old: it looks itself, and sees the cancel
    assert second.cancelled and len(looks) == 2


def test_workers_that_poll_together_share_the_look_under_way() -> None:
    from pylo.store import _heartbeat

    looks = _heartbeat._Looks()
    gate = SecondCaller()
    looks._flights._lock = gate  # type: ignore[assignment]  # observed: when the second poller has looked
    inside, release = threading.Event(), threading.Event()
    reads: list[int] = []

    def slow_read() -> bool:  # a GET to an object store, under way while the others poll
        reads.append(1)
        inside.set()
        assert release.wait(30)
        return True

    key = ("s3://bucket/store", EID, time.monotonic)
    got: list[Any] = []
    first = threading.Thread(target=lambda: got.append(looks.look(key, 5.0, 20.0, slow_read)))
    first.start()
    assert inside.wait(30)
    second = threading.Thread(target=lambda: got.append(looks.look(key, 5.0, 20.0, slow_read)))
    second.start()
    assert gate.second.wait(30)  # the second found the first's look under way
    release.set()
    first.join(30)
    second.join(30)
    assert reads == [1] and got == [(5.0, True), (5.0, True)]


def test_a_block_start_takes_a_look_younger_than_it_allows_and_looks_itself_past_it(tmp_path: Path) -> None:
    clock = Clock()
    store, (first, second), looks = _beats(tmp_path, 2, clock)
    clock.now = 1.0
    assert not first.check_cancel(0.05) and len(looks) == 1
    store.request_cancel(EID)
    clock.now = 1.04
    assert not second.check_cancel(0.05) and len(looks) == 1  # the look of 40 ms ago answers
    clock.now = 1.05
    assert second.check_cancel(0.05) and len(looks) == 2  # 50 ms old: not an answer any more
    assert not first.cancelled  # it learns at its next look
    assert first.check_cancel(0.05) and len(looks) == 2  # from the second's look, which saw it


def test_a_check_without_an_age_always_looks(tmp_path: Path) -> None:
    clock = Clock()
    store, (first, second), looks = _beats(tmp_path, 2, clock)
    first.check_cancel()
    second.check_cancel()
    assert len(looks) == 2
