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
at the end. Which unit to try is decided by ``next_free`` and ``own_next`` (pure); ``Taker``
carries it out against the store.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from typing import Protocol

from ..store import BlockInfo, Manifest, Store
from ..store._shared_calls import SharedCalls
from ..store._takes import TakeBook, holders, list_takes, release_unit, take_unit

__all__ = ["Fixed", "Source", "Taken", "Taker", "next_free", "own_next"]

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


def own_next(book: TakeBook, units: Sequence[int], own: range) -> int | None:
    """The first index of ``own`` (a worker's own units, as indexes in ``units``) whose unit
    nobody holds, or ``None`` when someone holds each of them. Pure."""
    return next((i for i in own if book.free(units[i])), None)


# Lost races in a row before the listing is read again: one loss is usually a neighbour that
# took the same next unit a moment earlier; more mean the book is stale.
_MISSES_BEFORE_LISTING = 2


class Taker:
    """Takes units of ``manifest`` for ``worker``. With ``own`` (a worker the run was planned
    with), it tries its own units first, in order: worker *w* of *n* tries units *w*, *w + n*, ...
    and needs no listing while one of them is left; a worker that joined later has none and
    lists before its first take."""

    def __init__(self, store: Store, manifest: Manifest, worker: int, *, own: bool = True) -> None:
        self.store, self.eid, self.worker = store, manifest.id, worker
        self.units = manifest.units()
        self.ids = [u[0].block for u in self.units]
        self.index = {unit: i for i, unit in enumerate(self.ids)}
        self.writer = uuid.uuid4().hex[:12]
        self.book = TakeBook()
        self.seen: set[str] = set()  # the names of taken/ its book has read
        self.exhausted = False  # no unit was left to take: every one is held or done
        n = max(1, manifest.workers)
        self.own = range(worker, len(self.ids), n) if own and worker < n else range(0)
        self.cursor = 0
        # workers choose among about as many free units as there are workers (see next_free)
        self.spread = n
        self.listed = False
        if not self.own:
            self._list()

    def _list(self) -> None:
        """List ``taken/`` and learn the names not read before (hundreds of workers list a
        directory of thousands of names, again and again near the end of a run)."""
        new = set(shared_listing(self.store, self.eid)).difference(self.seen)
        self.seen |= new
        self.book = self.book.with_names(new)
        self.listed = True

    def mine(self) -> list[Taken]:
        self._list()
        held = holders(self.store, self.eid, self.book)
        return [Taken(self.units[self.index[u]], t.generation, continues=True)
                for u, t in sorted(held.items()) if t.worker == self.worker and u in self.index]

    def take(self) -> Taken | None:
        misses = 0
        while True:
            i = self._handed_back(misses)
            if i is None and self.own:
                i = own_next(self.book, self.ids, self.own)
                if i is None:  # its own units are all held: from now on it takes what is free
                    self.own = range(0)
                    self._list()
                    continue
                self.own = range(i, self.own.stop, self.own.step)
            stealing = i is None
            if i is None:
                i = next_free(self.book, self.ids, self.cursor, spread=self.spread, pick=self.worker + misses)
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
            if won:
                # the cursor stays at the first unit it does not know to be held: the units
                # after it go in about their order, the small ones of the end last
                self.cursor = next_free(self.book, self.ids, self.cursor) or 0
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
        free = sorted({self.index[u] for u, _ in self.book.released if u in self.index and self.book.free(u)})
        return free[(self.worker + misses) % len(free)] if free else None

    def hand_back(self, taken: Taken) -> None:
        release_unit(self.store, self.eid, taken.unit, taken.generation)


# One listing of an execution's ``taken/`` at a time in a process, shared by the workers that
# want one while it runs. A listing reads a directory entry by entry, and Python lets other threads
# run at each entry: 256 workers in one process listing 2,458 names at the end of a run waited
# seconds each for the interpreter. A shared listing began after the waiter asked, so each
# worker's book still only grows.
_LISTINGS: SharedCalls[list[str]] = SharedCalls()


def shared_listing(store: Store, eid: str) -> list[str]:
    """The names in ``eid``'s ``taken/``, from the listing under way in this process if any."""
    return _LISTINGS.call((store.url, eid), lambda: list_takes(store, eid))


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
