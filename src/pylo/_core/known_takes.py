"""What the Pylo workers of one process know of an execution's takes: one book, shared.

Workers that are threads of one interpreter (an in-process cluster, the thread backend, a Dask
worker with many threads) each kept a book of ``taken/`` of their own. Each read every name of
every listing, and looked through every unit for a free one, so the end of a run cost workers ×
units steps under one interpreter lock: 256 workers over 2,458 units spent more of the run's
CPU time on their books than on anything else of pylo's. Here a process keeps one book per
execution. What a worker learns (a listing, a take it won or lost, a unit it handed back) is
learned once for all of them, and the units nobody holds are kept sorted, so the next free one
is found by bisection.

Everything in the book is a fact about the store that stays true: a unit's latest generation
only grows and a hand-back is never undone, so a book shared by workers that learned at
different moments is never wrong, only sometimes behind (the create-only take decides).
"""

from __future__ import annotations

import bisect
import threading
import weakref
from collections.abc import Sequence

from ..store import BlockInfo, Manifest, Store
from ..store._shared_calls import SharedCalls
from ..store._takes import TakeBook, list_takes, parse_take_name

__all__ = ["KnownTakes", "known_takes", "next_free"]

Unit = tuple[BlockInfo, ...]


def next_free(free: Sequence[int], start: int, *, spread: int = 1, pick: int = 0) -> int | None:
    """Of ``free`` (sorted indexes of the units nobody holds), the one ``pick`` picks among the
    first ``spread`` at or after ``start``, wrapping round to those before it (a unit handed
    back); ``None`` when none is free. Workers that become free together pick different units
    by their picks instead of all racing for the first one. Pure."""
    if not free:
        return None
    at = bisect.bisect_left(free, start)
    window = list(free[at:at + spread])
    if len(window) < spread:
        window += free[:min(at, spread - len(window))]
    return window[pick % len(window)]


class KnownTakes:
    """The takes of one execution as this process knows them (see the module's text)."""

    def __init__(self, store: Store, manifest: Manifest) -> None:
        self.store, self.eid = store, manifest.id
        self.units: list[Unit] = manifest.units()
        self.ids = [u[0].block for u in self.units]
        self.index = {unit: i for i, unit in enumerate(self.ids)}
        self._lock = threading.Lock()
        self._latest: dict[int, int] = {}  # unit -> its latest generation taken
        self._released: set[tuple[int, int]] = set()  # (unit, generation) handed back
        self._seen: set[str] = set()  # the names of taken/ read already
        self._free = list(range(len(self.ids)))  # indexes of the units nobody holds, sorted

    def free(self, unit: int) -> bool:
        gen = self._latest.get(unit)
        return gen is None or (unit, gen) in self._released

    def next_generation(self, unit: int) -> int:
        return self._latest.get(unit, 0) + 1

    def next_free(self, start: int, *, spread: int = 1, pick: int = 0) -> int | None:
        """The index of a free unit (see ``next_free``)."""
        with self._lock:
            return next_free(self._free, start, spread=spread, pick=pick)

    def handed_back_free(self) -> list[int]:
        """The indexes of the units handed back and free again, in order."""
        with self._lock:
            return sorted(self.index[u] for u, gen in self._released
                          if self._latest.get(u) == gen and u in self.index)

    def book(self) -> TakeBook:
        """What is known now, as a book of its own."""
        with self._lock:
            return TakeBook(dict(self._latest), frozenset(self._released))

    def taken(self, unit: int, generation: int) -> None:
        """Learn that ``unit`` was taken under ``generation`` (by anyone)."""
        with self._lock:
            self._learn(unit, generation, False)

    def handed_back(self, unit: int, generation: int) -> None:
        """Learn that the take of ``unit`` under ``generation`` was handed back."""
        with self._lock:
            self._learn(unit, generation, True)

    def refresh(self) -> None:
        """List ``taken/`` and learn the names not read before. Workers that want a listing
        while one is under way share it, though it began a moment before they asked: a unit
        handed back in that moment is missed, and still never left without a taker (the worker
        that handed it back goes back to Dask's scheduler and runs again, see ``chain``)."""
        _LISTINGS.call((self.store.url, self.eid), self._list)

    def _list(self) -> None:
        names = list_takes(self.store, self.eid)
        with self._lock:
            new = [name for name in names if name not in self._seen]
            self._seen.update(new)
            for name in new:
                said = parse_take_name(name)
                if said is not None:
                    self._learn(*said)

    def _learn(self, unit: int, generation: int, released: bool) -> None:
        """Fold one fact in and keep the free units in step (under the lock)."""
        if released:
            self._released.add((unit, generation))
        else:
            self._latest[unit] = max(generation, self._latest.get(unit, 0))
        i = self.index.get(unit)
        if i is None:  # a held block's, or not this manifest's: nobody takes it
            return
        at = bisect.bisect_left(self._free, i)
        listed = at < len(self._free) and self._free[at] == i
        if self.free(unit) and not listed:
            self._free.insert(at, i)
        elif not self.free(unit) and listed:
            del self._free[at]


# One listing of an execution's ``taken/`` at a time in a process, shared by the workers that
# want one while it runs, and read into the book once.
_LISTINGS: SharedCalls[None] = SharedCalls()

# The book of each execution that a worker of this process is taking units of; it goes when the
# last of them does.
_BOOKS: weakref.WeakValueDictionary[tuple[str, str], KnownTakes] = weakref.WeakValueDictionary()
_BOOKS_LOCK = threading.Lock()


def known_takes(store: Store, manifest: Manifest) -> KnownTakes:
    """This process's book of ``manifest``'s takes in ``store``."""
    key = (store.url, manifest.id)
    with _BOOKS_LOCK:
        book = _BOOKS.get(key)
        if book is None:
            book = _BOOKS[key] = KnownTakes(store, manifest)
        return book
