"""How a worker gets its next blocks: it takes, at run time, the next unit nobody holds.

    free worker ─► a unit handed back, else one of the next free units in order (its hint first;
                   then among as many free units as there are workers, picked by its number, so
                   that workers free together do not all race for the same one)
                 ─► create taken/{unit}-{gen}.json
                     ▲ lost the race: learn it, pick again; twice in a row: list taken/ again
                     └── none free in its book: list once more (a unit handed back is free again)

Exactly one worker holds a unit at a time: the create-only write decides. The order is the
blocks' order, and blocks shrink toward the end of a run (see ``plan.block_sizes``), so the last
units taken are small ones and no worker is left alone with a big block at the end. Which unit to
try is decided by ``next_free`` (pure); ``Taker`` carries it out against the store.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from typing import Protocol

from ..store import BlockInfo, Manifest, Store
from ..store._takes import TakeBook, holders, read_takebook, release_unit, take_unit

__all__ = ["Fixed", "Source", "Taken", "Taker", "next_free"]

Unit = tuple[BlockInfo, ...]


@dataclasses.dataclass(frozen=True)
class Taken:
    """A unit a worker holds: its blocks, the generation of its take, and whether someone ran
    part of it before (it was handed back, or this worker held it before its Dask worker died):
    then what its segments concluded is read first and skipped. ``adopted``: another worker
    handed it back, so what concluded before counts in that worker's tally, not this one's."""

    blocks: Unit
    generation: int = 1
    continues: bool = False
    adopted: bool = False

    @property
    def unit(self) -> int:
        return self.blocks[0].block


class Source(Protocol):
    """Where a worker's blocks come from."""

    def mine(self) -> list[Taken]:
        """The units this worker held before its task was run again (its Dask worker died)."""

    def take(self) -> Taken | None:
        """The next unit for this worker, or ``None`` when nobody's is left."""

    def hand_back(self, taken: Taken) -> None:
        """Give ``taken`` back unfinished: the next free worker continues it."""


def next_free(book: TakeBook, units: Sequence[int], start: int, *, spread: int = 1, pick: int = 0) -> int | None:
    """The index in ``units`` of a unit nobody holds: among the first ``spread`` free ones at or
    after ``start`` (wrapping round to those before it, a unit handed back), the one ``pick``
    picks; ``None`` when every unit is held. Workers that become free together pick different
    units by their picks instead of all racing for the first one. Pure."""
    n = len(units)
    window: list[int] = []
    for k in range(n):
        i = (start + k) % n
        if book.free(units[i]):
            window.append(i)
            if len(window) >= spread:
                break
    return window[pick % len(window)] if window else None


# Lost races in a row before the listing is read again: one loss is usually a neighbour that
# took the same next unit a moment earlier; more mean the book is stale.
_MISSES_BEFORE_LISTING = 2


class Taker:
    """Takes units of ``manifest`` for ``worker``, beginning with unit number ``hint`` (worker
    *w* of the first *n* tries unit *w* first: the first round needs no listing and no race)."""

    def __init__(self, store: Store, manifest: Manifest, worker: int, *, hint: int | None = None) -> None:
        self.store, self.eid, self.worker = store, manifest.id, worker
        self.units = manifest.units()
        self.ids = [u[0].block for u in self.units]
        self.index = {unit: i for i, unit in enumerate(self.ids)}
        self.writer = uuid.uuid4().hex[:12]
        self.book = TakeBook()
        self.exhausted = False  # no unit was left to take: every one is held or done
        self.cursor = hint if hint is not None and 0 <= hint < len(self.ids) else 0
        # workers choose among about as many free units as there are workers (see next_free)
        self.spread = max(1, manifest.workers)
        self.listed = hint is None  # an unknown start: list before the first try
        # True while the hint is untried; False once tried (the next take lists); then None
        self.hinted: bool | None = None if hint is None else True
        if self.listed:
            self._list()

    def _list(self) -> None:
        self.book = read_takebook(self.store, self.eid)
        self.listed = True
        self.hinted = None

    def mine(self) -> list[Taken]:
        self._list()
        held = holders(self.store, self.eid, self.book)
        return [Taken(self.units[self.index[u]], t.generation, continues=True)
                for u, t in sorted(held.items()) if t.worker == self.worker and u in self.index]

    def take(self) -> Taken | None:
        misses = 0
        if self.hinted is False:  # after the first round the others' hints are taken: look
            self._list()
        while True:
            spread = 1 if self.hinted else self.spread  # the hint itself, then a pick by its number
            i = self._handed_back(misses)
            if i is None:
                i = next_free(self.book, self.ids, self.cursor, spread=spread, pick=self.worker + misses)
            if i is None:
                if self.listed:
                    self.exhausted = True
                    return None
                self._list()
                continue
            unit = self.ids[i]
            gen = self.book.next_generation(unit)
            won = take_unit(self.store, self.eid, unit, gen, self.worker, self.writer)
            self.book = self.book.taken(unit, gen)
            self.listed = False
            self.hinted = False if self.hinted else None
            if won:
                # the cursor stays at the first unit it does not know to be held: the units
                # after it go in about their order, the small ones of the end last
                self.cursor = next_free(self.book, self.ids, self.cursor) or 0
                return Taken(self.units[i], gen, continues=gen > 1, adopted=gen > 1)
            misses += 1
            if misses >= _MISSES_BEFORE_LISTING:
                self._list()
                misses = 0

    def _handed_back(self, misses: int) -> int | None:
        """A unit handed back and free again, first: part of it ran already, and it is one of
        the run's bigger blocks (taken early, given back when its worker left)."""
        free = sorted({self.index[u] for u, _ in self.book.released if u in self.index and self.book.free(u)})
        return free[(self.worker + misses) % len(free)] if free else None

    def hand_back(self, taken: Taken) -> None:
        release_unit(self.store, self.eid, taken.unit, taken.generation)


class Fixed:
    """A fixed chain of blocks, run in order (a unit per block, or per run of one pack)."""

    def __init__(self, blocks: Sequence[BlockInfo]) -> None:
        self.todo: list[Taken] = []
        for b in blocks:
            if self.todo and b.pack is not None and self.todo[-1].blocks[-1].pack == b.pack \
                    and self.todo[-1].blocks[-1].block == b.block - 1:
                self.todo[-1] = Taken((*self.todo[-1].blocks, b))
            else:
                self.todo.append(Taken((b,)))

    def mine(self) -> list[Taken]:
        todo, self.todo = self.todo, []
        return [dataclasses.replace(t, continues=True) for t in todo]

    def take(self) -> Taken | None:
        return self.todo.pop(0) if self.todo else None

    def hand_back(self, taken: Taken) -> None:
        """A fixed chain is nobody else's: what is left of it stays pending."""
