"""Why an execution stopped before its end, for every reader of the store:

    {execution}/stopped.json     {"format": 1, "kind": "tolerance" | "cluster lost" | ..., "message"}

Written by the client that decided it (its tolerance passed) or saw it (its cluster lost), before
the workers are asked to stop; at most once per execution. JSON: ``pylo status`` and the web view
read it without unpickling anything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._core.tolerance import Stop
from ..errors import CorruptSnapshot
from ._layout import MAX_SMALL_BYTES
from ._segments import _load_json, check_version

if TYPE_CHECKING:
    from . import Store

__all__ = ["read_stop", "write_stop"]


def write_stop(store: Store, eid: str, stop: Stop) -> bool:
    """Record ``stop`` unless a reason is recorded already (create-only: the first reason
    stands, e.g. a tolerance passed before the cluster was lost); return whether this wrote it."""
    return store.files.put_new(store.layout.stopped(eid), stop.to_json())


def read_stop(store: Store, eid: str) -> Stop | None:
    """The recorded stop of ``eid``, or ``None`` when it did not stop early. Raises
    ``CorruptSnapshot`` / ``IncompatibleSnapshot`` for a record that cannot be read."""
    path = store.layout.stopped(eid)
    try:
        data = store.files.get(path, MAX_SMALL_BYTES)
    except FileNotFoundError:
        return None
    obj = _load_json(data, path)
    check_version(obj, path)
    try:
        return Stop.from_obj(obj)
    except (KeyError, TypeError, ValueError):
        raise CorruptSnapshot(f"corrupt object {path}: not a stop record", path) from None
