"""Inputs: a block's values serialized (cloudpickle, checked to load back) and read back, an
object of several consecutive blocks (a pack, a shared object) read once for all of them."""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import cloudpickle

from ..errors import CorruptSnapshot, TaskNotSerializable
from ._input_packs import pack_block
from ._manifest import BlockInfo

if TYPE_CHECKING:
    from ._store import Store

__all__ = ["InputsReader", "dump_inputs"]


class InputsReader:
    """Reads the inputs of one execution's blocks, keeping the last object of several blocks it
    read (a pack, or a shared object): a reader going through consecutive blocks reads each such
    object once, and holds one at most."""

    def __init__(self, store: Store, eid: str) -> None:
        self.store, self.eid = store, eid
        self._kept: tuple[int, str, bytes] | None = None  # (first block, path, its bytes)

    def read(self, info: BlockInfo) -> tuple[Sequence[int] | None, list[Any]]:
        first = info.inputs_first
        data: bytes | memoryview
        if first is None:
            path, data = self.store.read_inputs_object(self.eid, info)
        else:
            path, whole = self._object_of(first, info)
            data = pack_block(whole, path, first, info.block - first)
            path = f"{path} (block {info.block})"
        return _load_inputs(data, path, info)

    def _object_of(self, first: int, info: BlockInfo) -> tuple[str, bytes]:
        if self._kept is None or self._kept[0] != first:
            self._kept = None  # the old one is let go before the new one is read
            path, data = self.store.read_inputs_object(self.eid, info)
            self._kept = (first, path, data)
        return self._kept[1], self._kept[2]


def _load_inputs(data: bytes | memoryview, path: str, info: BlockInfo) -> tuple[Sequence[int] | None, list[Any]]:
    try:
        positions, values = pickle.loads(data)
    except Exception as exc:  # any unpickling failure means a damaged object
        raise CorruptSnapshot(f"corrupt input block {path}: {exc!r}", path) from exc
    if not isinstance(values, list) or len(values) != info.count:
        raise CorruptSnapshot(f"corrupt input block {path}: expected {info.count} inputs", path)
    return positions, values


def dump_inputs(positions: Sequence[int] | None, values: list[Any], first: int) -> bytes:
    """Serialize a block and check that it loads back: an input that pickles but cannot be
    unpickled would otherwise make the whole execution unreadable. On failure, name the position
    of the input at fault (``TaskNotSerializable``)."""
    try:
        data: bytes = cloudpickle.dumps((positions, values), protocol=pickle.HIGHEST_PROTOCOL)
        pickle.loads(data)
    except Exception as exc:  # the user's objects failed: find the culprit, report its position
        for i, value in enumerate(values):
            try:
                pickle.loads(cloudpickle.dumps(value))
            except Exception as inner:  # the same user code, one input at a time
                raise TaskNotSerializable(
                    f"input at position {first + i} cannot be serialized and loaded back: {inner!r}"
                ) from inner
        raise TaskNotSerializable(f"inputs cannot be serialized: {exc!r}") from exc
    return data
