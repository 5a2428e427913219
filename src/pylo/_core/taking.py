"""How a worker gets its next blocks: it takes, at run time, the next unit nobody holds.

    free worker ─► a unit handed back, else its own next unit (worker w of the n planned ones:
                   units w, w + n, w + 2n, ...), else, its own all taken, one of the first free
                   units (picked by its number among as many as there are workers, so that
                   workers free together do not all race for the same one)
                 ─► create taken/{unit}-{gen}.json
                     ▲ lost its own unit: someone took it, go on to its next one
                     ▲ lost a free one: learn it, pick again; twice in a row: list taken/ again
                     └── none free in its book: list once more (a unit handed back is free again)

Exactly one worker holds a unit at a time: the create-only write decides. A worker's own units
are only where it looks first, not a deal: a free worker takes any unit nobody holds, its own
ones already taken or not (a worker that joined the run has none of its own). So workers that
keep pace never race and never list ``taken/`` until their own units are gone (64 workers in one
process spent a quarter of their time listing and losing races when all of them took from the
front), while a fast, a joining or a lone worker takes whatever is left, from the front. Blocks
shrink toward the end of a run (see ``plan.block_sizes``) and every worker's own units shrink
with them, so the last units taken are small ones and no worker is left alone with a big block
at the end. Which unit to try is decided by ``own_next`` and ``known_takes.next_free`` (pure),
over the book of the takes that the workers of a process share; ``Taker`` carries it out against
the store.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Sequence
from typing import Protocol

from ..store import BlockInfo, Manifest, Store
from ..store._takes import holders, release_unit, take_unit
from .known_takes import known_takes

__all__ = ["Fixed", "Source", "Taken", "Taker", "own_next"]

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


def own_next(free: Callable[[int], bool], units: Sequence[int], own: range) -> int | None:
    """The first index of ``own`` (a worker's own units, as indexes in ``units``) whose unit is
    ``free``, or ``None`` when someone holds each of them. Pure."""
    return next((i for i in own if free(units[i])), None)


# Lost races in a row before the listing is read again: one loss is usually a neighbour that
# took the same next unit a moment earlier; more mean the book is stale.
_MISSES_BEFORE_LISTING = 2


class Taker:
    """Takes units of ``manifest`` for ``worker``. With ``own`` (a worker the run was planned
    with), it tries its own units first, in order: worker *w* of *n* tries units *w*, *w + n*, ...
    and needs no listing while one of them is left; a worker that joined later has none and
    lists before its first take. What it learns of the takes goes into its process's book,
    shared with the other workers there (see ``known_takes``)."""

    def __init__(self, store: Store, manifest: Manifest, worker: int, *, own: bool = True) -> None:
        self.store, self.eid, self.worker = store, manifest.id, worker
        self.known = known_takes(store, manifest)
        self.units, self.ids = self.known.units, self.known.ids
        self.writer = uuid.uuid4().hex[:12]
        self.exhausted = False  # no unit was left to take: every one is held or done
        n = max(1, manifest.workers)
        self.own = range(worker, len(self.ids), n) if own and worker < n else range(0)
        self.cursor = 0
        # workers choose among about as many free units as there are workers (see next_free)
        self.spread = n
        self.listed = False  # the book read a listing since this worker last tried to take
        if not self.own:
            self._list()

    def _list(self) -> None:
        self.known.refresh()
        self.listed = True

    def mine(self) -> list[Taken]:
        self._list()
        held = holders(self.store, self.eid, self.known.book())
        return [Taken(self.units[self.known.index[u]], t.generation, continues=True)
                for u, t in sorted(held.items()) if t.worker == self.worker and u in self.known.index]

    def take(self) -> Taken | None:
        known, misses = self.known, 0
        while True:
            i = self._handed_back(misses)
            if i is None and self.own:
                i = own_next(known.free, self.ids, self.own)
                if i is None:  # its own units are all held: from now on it takes what is free
                    self.own = range(0)
                    self._list()
                    continue
                self.own = range(i, self.own.stop, self.own.step)
            stealing = i is None
            if i is None:
                i = known.next_free(self.cursor, spread=self.spread, pick=self.worker + misses)
            if i is None:
                if self.listed:
                    self.exhausted = True
                    return None
                self._list()
                continue
            unit = self.ids[i]
            gen = known.next_generation(unit)
            won = take_unit(self.store, self.eid, unit, gen, self.worker, self.writer)
            known.taken(unit, gen)
            self.listed = False
            if won:
                # the cursor stays at the first unit it does not know to be held: the units
                # after it go in about their order, the small ones of the end last
                self.cursor = known.next_free(self.cursor) or 0
                return Taken(self.units[i], gen, continues=gen > 1, adopted=gen > 1)
            if not stealing:  # its own unit, or one handed back, went to someone else: go on
                continue
            misses += 1
            if misses >= _MISSES_BEFORE_LISTING:
                self._list()
                misses = 0

    def _handed_back(self, misses: int) -> int | None:
        """A unit handed back and free again, first: part of it ran already, and it is one of
        the run's bigger blocks (taken early, given back when its worker left)."""
        free = self.known.handed_back_free()
        return free[(self.worker + misses) % len(free)] if free else None

    def hand_back(self, taken: Taken) -> None:
        release_unit(self.store, self.eid, taken.unit, taken.generation)
        self.known.handed_back(taken.unit, taken.generation)


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
