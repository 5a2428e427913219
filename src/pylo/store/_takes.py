"""Takes: which worker runs which block, decided at run time and recorded in the store.

    {execution}/taken/{unit}-{gen}.json      {"format", "worker", "writer", "taken"}: created
                                            create-only (O_EXCL locally, If-None-Match on an
                                            object store): of two workers, exactly one wins
    {execution}/taken/{unit}-{gen}.released  written by that worker when it hands the unit back
                                            (its Dask worker leaves the cluster) unfinished

A *unit* is what one take gives a worker: a block, or the blocks of one pack (they share one
inputs object), named by its first block. A free worker takes the next unit nobody holds; the
record survives its client and tells a resume, ``attach``, ``pylo status`` and the web view who
runs what. A unit handed back is taken again under the next generation, by whoever is free; the
new holder continues it from its segments. Like leases, takes are written without fsync: they
matter while the run lives, and after a power cut the segments have the last word.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..errors import CorruptSnapshot
from ._layout import FORMAT_VERSION
from ._segments import _load_json, check_version

if TYPE_CHECKING:
    from . import Store

__all__ = ["Take", "TakeBook", "holders", "list_takes", "parse_take_name", "read_takebook", "release_unit",
           "take_unit"]

_NAME = re.compile(r"^(\d{6})-(\d{3,})\.(json|released)$")


@dataclasses.dataclass(frozen=True)
class Take:
    """One take of a unit: who took it, under which generation."""

    unit: int
    generation: int
    worker: int
    writer: str = ""
    taken: float = 0.0

    def to_json(self) -> bytes:
        return json.dumps({"format": FORMAT_VERSION, "worker": self.worker, "writer": self.writer,
                           "taken": self.taken}).encode()

    @classmethod
    def decode(cls, unit: int, generation: int, data: bytes, path: str) -> Take:
        """The take stored at ``path``; an unknown format or a damaged object is refused."""
        obj = _load_json(data, path)
        check_version(obj, path, (FORMAT_VERSION,))
        try:
            return cls(unit=unit, generation=generation, worker=int(obj["worker"]),
                       writer=str(obj.get("writer", "")), taken=float(obj.get("taken", 0.0)))
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptSnapshot(f"corrupt take {path}: {exc}", path) from exc


@dataclasses.dataclass(frozen=True)
class TakeBook:
    """What the names in ``taken/`` say: each unit's latest generation, and which were handed back.
    Pure: built from a listing, asked without I/O."""

    latest: dict[int, int] = dataclasses.field(default_factory=dict)
    released: frozenset[tuple[int, int]] = frozenset()

    @classmethod
    def from_names(cls, names: Iterable[str]) -> TakeBook:
        return cls().with_names(names)

    def with_names(self, names: Iterable[str]) -> TakeBook:
        """This book, knowing also what ``names`` (of ``taken/``) say. Names are only ever added
        to ``taken/`` while a run lives, so a worker that listed before reads only the new ones."""
        latest = dict(self.latest)
        released: set[tuple[int, int]] = set()
        for name in names:
            said = parse_take_name(name)
            if said is None:
                continue
            unit, gen, handed_back = said
            if handed_back:
                released.add((unit, gen))
            else:
                latest[unit] = max(gen, latest.get(unit, 0))
        return TakeBook(latest, self.released | released)

    def held(self, unit: int) -> int | None:
        """The generation under which ``unit`` is held now, or ``None`` when nobody holds it."""
        gen = self.latest.get(unit)
        return None if gen is None or (unit, gen) in self.released else gen

    def free(self, unit: int) -> bool:
        return self.held(unit) is None

    def next_generation(self, unit: int) -> int:
        return self.latest.get(unit, 0) + 1

    def taken(self, unit: int, generation: int) -> TakeBook:
        """This book, knowing that ``unit`` was taken under ``generation`` (by anyone)."""
        latest = dict(self.latest)
        latest[unit] = max(generation, latest.get(unit, 0))
        return TakeBook(latest, self.released)

    def handed_back(self, unit: int) -> bool:
        """Whether ``unit`` was held before and handed back (its new holder continues it)."""
        return any(u == unit for u, _ in self.released)


def parse_take_name(name: str) -> tuple[int, int, bool] | None:
    """What a name in ``taken/`` says: (unit, generation, handed back), or ``None`` for a name
    that is not a take's."""
    m = _NAME.match(name.rsplit("/", 1)[-1])
    if m is None:
        return None
    return int(m.group(1)), int(m.group(2)), m.group(3) == "released"


def read_takebook(store: Store, eid: str) -> TakeBook:
    """One listing of ``taken/``."""
    return TakeBook.from_names(list_takes(store, eid))


def list_takes(store: Store, eid: str) -> list[str]:
    """The names in ``taken/``: one listing."""
    return store.files.listdir(store.layout.taken_dir(eid))


def take_unit(store: Store, eid: str, unit: int, generation: int, worker: int, writer: str) -> bool:
    """Try to take ``unit`` under ``generation``; return whether this call won it."""
    take = Take(unit, generation, worker, writer, time.time())
    path = store.layout.taken(eid, unit, generation)
    if store.files.put_new(path, take.to_json(), volatile=True, probe=False):
        return True
    try:  # our create landed and its answer did not (a retried request): the take is ours
        mine = Take.decode(unit, generation, store.files.get(path), path)
    except FileNotFoundError:
        return False
    return mine.worker == worker and mine.writer == writer


def release_unit(store: Store, eid: str, unit: int, generation: int) -> None:
    """Hand ``unit`` back: the next free worker takes it under the next generation."""
    body = json.dumps({"format": FORMAT_VERSION}).encode()
    store.files.put(store.layout.taken(eid, unit, generation, released=True), body, volatile=True)


def holders(store: Store, eid: str, book: TakeBook | None = None) -> dict[int, Take]:
    """Who holds each unit now (units handed back and not taken again are left out): one GET per
    held unit, read at once."""
    book = read_takebook(store, eid) if book is None else book
    paths = {store.layout.taken(eid, unit, gen): (unit, gen)
             for unit in book.latest if (gen := book.held(unit)) is not None}
    found = store.files.get_many(list(paths))
    out: dict[int, Take] = {}
    for path, data in found.items():
        unit, gen = paths[path]
        out[unit] = Take.decode(unit, gen, data, path)
    return out
