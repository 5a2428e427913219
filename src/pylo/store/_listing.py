"""Which executions a store holds, in what order, and which one a short reference names."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from ..errors import ExecutionNotFound, InvalidArgument, PyloError
from ._layout import id_matcher, validate_execution_id

if TYPE_CHECKING:
    from ._store import Store

__all__ = ["executions", "list_executions", "order_by_parents", "resolve"]


def list_executions(store: Store) -> list[str]:
    """Ids of the executions that have a manifest, sorted by id (by their creation time)."""
    ids = []
    for name in store.files.listdir(store.layout.root):
        try:
            validate_execution_id(name)
        except InvalidArgument:
            continue
        ids.append(name)
    return [i for i in ids if store.files.exists(store.layout.manifest(i))]


def executions(store: Store) -> list[str]:
    """See ``Store.executions``."""
    parents: dict[str, str | None] = {}
    for eid in list_executions(store):
        try:
            parents[eid] = store.read_manifest(eid).parent
        except PyloError:
            parents[eid] = None
    return order_by_parents(parents)


def order_by_parents(parents: Mapping[str, str | None], *, newest_first: bool = False) -> list[str]:
    """The ids of ``parents`` (id → its parent) sorted by id, except that a parent always comes
    before its children; ``newest_first``: highest id first, and a resume always before the
    execution it resumed. Ids carry the clock of the machine that made them, so a resume may
    sort on the wrong side of its parent by id alone. A loop (only a hand-edited store has one)
    puts its members last, in id order."""
    after: dict[str, list[str]] = {}  # id -> those that may come only once it is placed
    waiting = dict.fromkeys(parents, 0)
    for eid, parent in parents.items():
        if parent is not None and parent in parents and parent != eid:
            first, then = (eid, parent) if newest_first else (parent, eid)
            after.setdefault(first, []).append(then)
            waiting[then] += 1
    key: Callable[[str], str] = _Desc if newest_first else str
    ready = [key(eid) for eid, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    out: list[str] = []
    while ready:
        eid = str(heapq.heappop(ready))
        out.append(eid)
        for then in after.get(eid, ()):
            waiting[then] -= 1
            if waiting[then] == 0:
                heapq.heappush(ready, key(then))
    placed = set(out)
    return out + sorted((e for e in parents if e not in placed), reverse=newest_first)


class _Desc(str):
    """An id that sorts backwards, so a min-heap pops the highest id first."""

    def __lt__(self, other: str) -> bool:
        return str.__gt__(self, other)


def resolve(store: Store, ref: str) -> str:
    """See ``Store.resolve``."""
    how = id_matcher(ref)
    if how is None:
        return ref
    if how == "random":
        matches = [i for i in list_executions(store) if i.endswith("-" + ref) or i.startswith(ref)]
    else:
        matches = [i for i in list_executions(store) if i.startswith(ref)]
    if not matches:
        raise ExecutionNotFound(f"no execution {ref}… in store {store.url}")
    if len(matches) > 1:
        shown = ", ".join(matches[:5]) + (", …" if len(matches) > 5 else "")
        raise InvalidArgument(f"{ref!r} names {len(matches)} executions ({shown}): give more of the id")
    return matches[0]
