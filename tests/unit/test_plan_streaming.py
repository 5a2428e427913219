"""Planning streams its inputs: the client never holds ``workers × block_size`` of them."""

from __future__ import annotations

import itertools

import pytest

from pylo._core import plan


class _Counted:
    """A sized iterable that counts how many of its items were taken."""

    def __init__(self, n: int) -> None:
        self.n, self.taken = n, 0

    def __len__(self) -> int:
        return self.n

    def __iter__(self):  # type: ignore[no-untyped-def]
        for i in range(self.n):
            self.taken += 1
            yield i


def test_a_sized_input_is_read_one_block_ahead_whatever_the_worker_count() -> None:
    inputs = _Counted(10_000_000)
    chunks = plan._chunks(iter(inputs), 10_000, 1_000, len(inputs))
    first = len(next(chunks))  # 1,000 workers: BLOCKS_PER_WORKER blocks each while the run is young
    assert first == 10_000_000 // (plan.BLOCKS_PER_WORKER * 1_000) and inputs.taken == first


def test_a_generator_is_held_at_most_up_to_the_spread_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plan, "SPREAD_LIMIT", 1_000)
    taken = itertools.count()
    values = (next(taken) for _ in range(100_000))
    chunks = plan._chunks(values, 10_000, 1_000)
    first = next(chunks)
    assert len(first) == 1 and next(taken) <= 1_001  # 1,000 workers: blocks small enough for all of them


@pytest.mark.parametrize(("n", "workers", "sizes"), [(3, 4, [1, 1, 1]), (10, 4, [3, 3, 3, 1]), (0, 2, []),
                                                      (25, 2, [10, 10, 5])])
def test_small_runs_of_unknown_count_are_spread_over_the_workers(n: int, workers: int, sizes: list[int]) -> None:
    assert [len(c) for c in plan._chunks(iter(range(n)), 10, workers)] == sizes


@pytest.mark.parametrize(("n", "workers", "sizes"), [
    (3, 4, [1, 1, 1]),
    (10, 4, [2] * 5),  # a block holds a few inputs at least, as long as every worker gets one
    (8, 2, [4, 4]),
    (0, 2, []),
    (25, 2, [4] * 6 + [1]),
    (1_000, 1, [10] * 100),  # never past the block size
])
def test_blocks_of_a_known_count_shrink_toward_the_end(n: int, workers: int, sizes: list[int]) -> None:
    assert [len(c) for c in plan._chunks(iter(range(n)), 10, workers, n)] == sizes


@pytest.mark.parametrize("workers", [1, 2, 7, 64, 512])
@pytest.mark.parametrize("total", [1, 63, 2_000, 1_000_003])
def test_block_sizes_cover_every_input_never_grow_and_give_every_worker_work(total: int, workers: int) -> None:
    sizes = plan.block_sizes(total, 10_000, workers)
    assert sum(sizes) == total and all(0 < s <= 10_000 for s in sizes)
    assert sizes == sorted(sizes, reverse=True)  # a free worker at the end finds a small block
    assert len(sizes) >= min(total, workers)
    assert sizes[-1] <= plan.smallest_block(total, workers) <= max(plan.MIN_BLOCK, -(-total // (plan.TAIL_BLOCKS * workers)))


@pytest.mark.parametrize("counts", [None, [3, 2]])
def test_a_new_manifest_says_when_it_was_created_in_utc_to_the_millisecond(counts: list[int] | None) -> None:
    """Planned or written for a bag's blocks, the manifest's ``created`` is the store's one time
    format (ISO 8601, UTC, milliseconds), which other versions and the CLI parse."""
    import datetime as dt
    import re

    from pylo._core.config import Config
    from pylo.store import Store, new_execution_id

    store = Store("memory://plan-created")
    before = dt.datetime.now(dt.timezone.utc)
    if counts is None:
        manifest = plan.plan_execution(store, range(5), print, Config(), 2)
    else:
        manifest = plan.write_manifest_of(store, new_execution_id(), counts, print, Config(), 2)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", manifest.created)
    created = dt.datetime.fromisoformat(manifest.created)
    assert before - dt.timedelta(milliseconds=1) <= created <= dt.datetime.now(dt.timezone.utc)
    assert store.read_manifest(manifest.id).created == manifest.created
