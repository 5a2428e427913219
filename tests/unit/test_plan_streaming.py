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
    assert len(next(chunks)) == 10_000 and inputs.taken == 10_000


def test_a_generator_is_held_at_most_up_to_the_spread_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plan, "SPREAD_LIMIT", 1_000)
    taken = itertools.count()
    values = (next(taken) for _ in range(100_000))
    chunks = plan._chunks(values, 10_000, 1_000)
    first = next(chunks)
    assert len(first) == 1 and next(taken) <= 1_001  # 1,000 workers: blocks small enough for all of them


@pytest.mark.parametrize(("n", "workers", "sizes"), [(3, 4, [1, 1, 1]), (10, 4, [3, 3, 3, 1]), (0, 2, []),
                                                      (25, 2, [10, 10, 5])])
def test_small_runs_are_spread_over_the_workers_sized_or_not(n: int, workers: int, sizes: list[int]) -> None:
    assert [len(c) for c in plan._chunks(iter(range(n)), 10, workers, n)] == sizes
    assert [len(c) for c in plan._chunks(iter(range(n)), 10, workers)] == sizes
