"""Who takes which block: the pure decisions (which unit next, how many workers to start) and
the taker against a real local store, with no thread and no clock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import tasks
from pylo import Config
from pylo._core.elastic import to_spawn
from pylo._core.plan import plan_execution
from pylo._core.taking import Taker, next_free
from pylo.store import Manifest, Store
from pylo.store._takes import TakeBook, holders, read_takebook


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
    book = TakeBook.from_names(names)
    assert next_free(book, [0, 1, 2, 3], start) == expected


@pytest.mark.parametrize(("names", "spread", "pick", "expected"), [
    ([], 4, 2, 2),
    (["000000-001.json", "000001-001.json"], 2, 1, 3),  # the second of the first two free ones
    (["000000-001.json", "000001-001.json"], 4, 5, 3),  # only two free: the pick counts round them again
    (["000000-001.json", "000001-001.json", "000002-001.json", "000003-001.json"], 4, 1, None),
])
def test_workers_free_together_pick_different_units_by_their_numbers(names: list[str], spread: int, pick: int,
                                                                   expected: int | None) -> None:
    assert next_free(TakeBook.from_names(names), [0, 1, 2, 3], 0, spread=spread, pick=pick) == expected


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
