"""Which executions a store holds, in what order, and which one a short reference names."""

from __future__ import annotations

import heapq
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


def order_by_parents(parents: dict[str, str | None]) -> list[str]:
    """The ids of ``parents`` (id → its parent) sorted by id, except that a parent always comes
    before its children. A loop (only a hand-edited store has one) falls back to id order."""
    children: dict[str, list[str]] = {}
    ready: list[str] = []
    for eid, parent in parents.items():
        if parent is not None and parent in parents and parent != eid:
            children.setdefault(parent, []).append(eid)
        else:
            ready.append(eid)
    heapq.heapify(ready)
    out: list[str] = []
    while ready:
        eid = heapq.heappop(ready)
        out.append(eid)
        for child in children.pop(eid, ()):
            heapq.heappush(ready, child)
    placed = set(out)
    return out + sorted(e for e in parents if e not in placed)


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
