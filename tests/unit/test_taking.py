"""Who takes which block: the pure decisions (which unit next, how many workers to start) and
the taker against a real local store, with no thread and no clock."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

import tasks
from gates import SecondCaller
from pylo import Config
from pylo._core.elastic import to_spawn
from pylo._core.plan import plan_execution
from pylo._core.known_takes import KnownTakes, next_free
from pylo._core.taking import Taker
from pylo.store import Manifest, Store
from pylo.store._shared_calls import SharedCalls
from pylo.store._takes import TakeBook, holders, read_takebook, take_unit


@pytest.mark.parametrize(("names", "start", "expected"), [
    ([], 0, 0),
    ([], 2, 2),  # a worker's hint: worker 2 tries unit 2 first
    (["000000-001.json", "000001-001.json"], 0, 2),  # the next nobody holds
    (["000000-001.json", "000001-001.json", "000002-001.json", "000003-001.json"], 3, None),  # all held
    (["000000-001.json", "000000-001.released", "000001-001.json", "000002-001.json", "000003-001.json"], 3, 0),
    (["000000-001.json", "000000-001.released", "000000-002.json", "000001-001.json", "000002-001.json",
      "000003-001.json"], 0, None),  # handed back, then taken again
    (["000002-001.json"], 2, 3),
    (["000003-001.json"], 3, 0),  # past the end: the first before it
])
def test_the_next_unit_is_the_first_nobody_holds_from_the_cursor(names: list[str], start: int,
                                                                 expected: int | None) -> None:
    assert next_free(_free(names), start) == expected


@pytest.mark.parametrize(("names", "spread", "pick", "expected"), [
    ([], 4, 2, 2),
    (["000000-001.json", "000001-001.json"], 2, 1, 3),  # the second of the first two free ones
    (["000000-001.json", "000001-001.json"], 4, 5, 3),  # only two free: the pick counts round them again
    (["000000-001.json", "000001-001.json", "000002-001.json", "000003-001.json"], 4, 1, None),
])
def test_workers_free_together_pick_different_units_by_their_numbers(names: list[str], spread: int, pick: int,
                                                                   expected: int | None) -> None:
    assert next_free(_free(names), 0, spread=spread, pick=pick) == expected


def _free(names: list[str], units: int = 4) -> list[int]:
    """The units 0 … ``units`` - 1 that nobody holds by ``names``."""
    book = TakeBook.from_names(names)
    return [u for u in range(units) if book.free(u)]


def test_a_book_knows_generations_and_what_was_handed_back() -> None:
    book = TakeBook.from_names(["x/000005-001.json", "000005-001.released", "000005-002.json", "junk", "000007-001.json"])
    assert book.held(5) == 2 and book.held(7) == 1 and book.held(6) is None
    assert book.next_generation(5) == 3 and book.next_generation(6) == 1
    assert book.handed_back(5) and not book.handed_back(7)
    assert book.taken(6, 1).held(6) == 1 and book.held(6) is None  # learning returns a new book


@pytest.mark.parametrize(("threads", "started", "cap", "expected"), [
    (2, 2, None, range(2, 2)),
    (8, 2, None, range(2, 8)),  # six threads joined: six workers, numbered after the others
    (1, 4, None, range(4, 4)),  # threads left: nobody is started, nobody is stopped here
    (8, 2, 4, range(2, 4)),  # an explicit number of workers is a cap
    (8, 4, 4, range(4, 4)),
])
def test_workers_follow_the_threads_of_the_cluster_up_to_a_cap(threads: int, started: int, cap: int | None,
                                                               expected: range) -> None:
    assert to_spawn(threads, started, cap) == expected


def _planned(tmp_path: Path, n: int, workers: int) -> tuple[Store, Manifest]:
    store = Store(str(tmp_path / "store"))
    return store, plan_execution(store, range(n), tasks.noop, Config(), workers)


def test_free_workers_take_the_next_units_in_order_each_exactly_once(tmp_path: Path) -> None:
    store, manifest = _planned(tmp_path, 100, 2)
    units = [u[0].block for u in manifest.units()]
    fast, slow = Taker(store, manifest, 0), Taker(store, manifest, 1)
    order: list[int] = []
    while True:  # the fast worker takes three units for each of the slow one's
        took = [t for t in (fast.take(), fast.take(), fast.take(), slow.take()) if t is not None]
        if not took:
            break
        order.extend(t.unit for t in took)
    assert sorted(order) == units  # none taken twice, none skipped
    assert order[0] == 0  # its hint first; then each picks among the free ones by its number
    assert fast.exhausted and slow.exhausted
    owners = holders(store, manifest.id)
    assert sorted(owners) == units
    taken_by = [sum(1 for t in owners.values() if t.worker == w) for w in (0, 1)]
    assert taken_by[0] >= 2 * taken_by[1] > 0  # the free worker takes more: nothing was dealt out


def test_a_unit_handed_back_is_continued_by_the_next_free_worker(tmp_path: Path) -> None:
    store, manifest = _planned(tmp_path, 40, 2)
    leaving = Taker(store, manifest, 0)
    first = leaving.take()
    assert first is not None and first.generation == 1 and not first.continues
    leaving.hand_back(first)
    staying = Taker(store, manifest, 1, own=False)
    again = staying.take()
    assert again is not None and again.unit == first.unit and again.generation == 2 and again.continues
    assert read_takebook(store, manifest.id).held(first.unit) == 2
    assert holders(store, manifest.id)[first.unit].worker == 1


def test_a_worker_run_again_finds_the_units_it_held(tmp_path: Path) -> None:
    store, manifest = _planned(tmp_path, 40, 2)
    before = Taker(store, manifest, 1)
    held = [before.take(), before.take()]
    Taker(store, manifest, 0).take()  # someone else's
    again = Taker(store, manifest, 1)  # its task, run again
    assert [t.unit for t in again.mine()] == sorted(t.unit for t in held if t is not None)
    assert all(t.continues for t in again.mine())


def test_a_block_handed_back_counts_once_and_in_the_budget_of_the_worker_that_ran_each_input(tmp_path: Path) -> None:
    from pylo._core.block import BlockContext
    from pylo._core.chain import run_worker

    store = Store(str(tmp_path / "store"))
    config = Config(task_executions_before_flush=1, max_worker_failures=100)
    calls: list[int] = []

    def task(x: int) -> None:
        calls.append(x)
        tasks.fail_multiples_of_7(x)

    manifest = plan_execution(store, (x for x in range(20)), task, config, 1)  # one block of 20
    ctx = BlockContext(store, manifest.id, task, config)
    first = run_worker(ctx, 0, Taker(store, manifest, 0), stop=lambda: len(calls) >= 10,
                       hand_back=lambda: True)  # its Dask worker leaves after ten inputs
    assert first.finished + first.failed == 10 and first.failed_attempts == 2  # 0 and 7 failed
    assert read_takebook(store, manifest.id).released  # the block went back
    second = run_worker(ctx, 1, Taker(store, manifest, 1, own=False))
    assert second.finished + second.failed == 10 and second.failed_attempts == 1  # 14: its own only
    assert first.finished + second.finished == 17 and first.failed + second.failed == 3
    assert calls == list(range(20))  # nothing ran twice
    outcome = store.read_workers(manifest.id)[0]
    assert outcome["left"] and not outcome["cancelled"]


def _counting_listings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each listing of ``taken/`` the takers make, by execution."""
    from pylo._core import known_takes

    listed: list[str] = []
    real = known_takes.list_takes

    def counted(store: Store, eid: str) -> list[str]:
        listed.append(eid)
        return real(store, eid)

    monkeypatch.setattr(known_takes, "list_takes", counted)
    return listed


def test_a_planned_worker_takes_its_own_units_in_order_without_listing(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    store, manifest = _planned(tmp_path, 300, 3)
    units = [u[0].block for u in manifest.units()]
    listed = _counting_listings(monkeypatch)
    worker = Taker(store, manifest, 1)
    took = [worker.take() for _ in range(4)]
    assert [t.unit for t in took if t is not None] == [units[1], units[4], units[7], units[10]]
    assert listed == []  # its own units needed no listing and lost no race


def test_an_own_unit_someone_took_is_skipped_for_the_next_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store, manifest = _planned(tmp_path, 300, 3)
    units = [u[0].block for u in manifest.units()]
    listed = _counting_listings(monkeypatch)
    owner = Taker(store, manifest, 0)
    assert take_unit(store, manifest.id, units[0], 1, 5, "0123456789ab")  # a worker that joined took it
    first = owner.take()
    assert first is not None and first.unit == units[3] and first.generation == 1
    assert listed == []


def test_once_its_own_units_are_held_a_worker_takes_the_others_and_then_ends(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    store, manifest = _planned(tmp_path, 100, 2)
    units = [u[0].block for u in manifest.units()]
    listed = _counting_listings(monkeypatch)
    alone = Taker(store, manifest, 0)  # worker 1 never came
    took = []
    while (t := alone.take()) is not None:
        took.append(t.unit)
    assert took[: len(units[0::2])] == units[0::2]  # its own first, then the rest in order
    assert sorted(took) == units and len(took) == len(set(took))
    assert alone.exhausted and 1 <= len(listed) <= 2  # a listing when its own ran out, one to end


def test_workers_of_one_process_that_list_together_share_one_listing(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from pylo._core import known_takes

    store, manifest = _planned(tmp_path, 40, 2)
    listings: SharedCalls[None] = SharedCalls()
    monkeypatch.setattr(known_takes, "_LISTINGS", listings)
    gate = SecondCaller()
    listings._lock = gate  # type: ignore[assignment]  # observed: when the second caller has looked
    inside, release = threading.Event(), threading.Event()
    calls: list[int] = []

    def slow_listing(store: Store, eid: str) -> list[str]:
        calls.append(1)
        inside.set()
        assert release.wait(30)
        return ["000000-001.json"]

    monkeypatch.setattr(known_takes, "list_takes", slow_listing)
    first_worker, second_worker = Taker(store, manifest, 0), Taker(store, manifest, 1)
    assert first_worker.known is second_worker.known  # one book per execution in a process
    first = threading.Thread(target=first_worker._list)
    first.start()
    assert inside.wait(30)
    second = threading.Thread(target=second_worker._list)
    second.start()
    assert gate.second.wait(30)  # the second found the first's listing running
    release.set()
    first.join(30)
    second.join(30)
    assert calls == [1] and first_worker.listed and second_worker.listed
    assert not first_worker.known.free(0) and first_worker.known.free(1)


def test_the_book_of_a_process_keeps_its_free_units_in_step_with_what_it_learns(tmp_path: Path) -> None:
    store, manifest = _planned(tmp_path, 40, 2)
    known = KnownTakes(store, manifest)
    units = known.ids
    assert known.next_free(0) == 0 and known.next_free(len(units) - 1) == len(units) - 1
    known.taken(units[0], 1)
    known.taken(units[1], 1)
    assert known.next_free(0) == 2 and not known.free(units[0])
    known.handed_back(units[0], 1)  # free again: the first free one, also from past it
    assert known.next_free(0) == 0 and known.next_free(1) == 2 and known.handed_back_free() == [0]
    known.taken(units[0], 2)
    assert known.next_free(0) == 2 and known.handed_back_free() == []
    known.taken(units[0], 1)  # an older take learned late changes nothing
    assert known.next_generation(units[0]) == 3 and known.next_free(0) == 2
    for unit in units:
        known.taken(unit, 1)
    assert known.next_free(0) is None and known.book().held(units[0]) == 2


def test_a_listing_is_read_into_the_book_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pylo._core import known_takes

    store, manifest = _planned(tmp_path, 40, 2)
    units = [u[0].block for u in manifest.units()]
    for unit in units[:3]:
        assert take_unit(store, manifest.id, unit, 1, 0, "0123456789ab")
    parsed: list[str] = []
    real = known_takes.parse_take_name

    def counted(name: str) -> Any:
        parsed.append(name)
        return real(name)

    monkeypatch.setattr(known_takes, "parse_take_name", counted)
    known = KnownTakes(store, manifest)
    known.refresh()
    known.refresh()
    assert len(parsed) == 3 and known.next_free(0) == 3  # the second listing had nothing new


def test_a_book_learns_only_what_new_names_add() -> None:
    book = TakeBook.from_names(["000001-001.json"])
    more = book.with_names(["000001-001.released", "000001-002.json", "000003-001.json"])
    assert more.held(1) == 2 and more.held(3) == 1 and book.held(3) is None
    assert more == TakeBook.from_names(["000001-001.json", "000001-001.released", "000001-002.json",
                                        "000003-001.json"])
