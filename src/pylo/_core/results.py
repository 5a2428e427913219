"""The kept results of an execution, read back: ``(input, result)`` of every finished input, in
the root's input order, inherited ones included, each root position once.

Each execution of the chain is read one block at a time and the streams are merged by root
position, so memory holds one block per execution of the chain, never the whole result set.
"""

from __future__ import annotations

import heapq
from collections.abc import Container, Iterator
from operator import itemgetter
from typing import Any

from ..errors import CorruptSnapshot, ResultsNotKept
from ..store import BlockInfo, BlockState, InputsReader, Manifest, Store
from ..store._results import load_result
from .state import lineage

__all__ = ["block_results", "check_kept", "read_results"]


def check_kept(store: Store, manifests: list[Manifest], states: list[dict[int, BlockState]] | None = None) -> None:
    """Raise ``ResultsNotKept`` unless every execution of the chain that finished inputs kept
    their results. ``states``: each manifest's block states, when the caller read them."""
    for i, manifest in enumerate(manifests):
        if manifest.config.store_results:
            continue
        if any(state.finished for state in (store.read_states(manifest) if states is None else states[i]).values()):
            raise ResultsNotKept(
                f"execution {manifest.id} ran without store_results=True: the results of its finished "
                "inputs were not kept. Run with store_results=True to keep them."
            )


def read_results(store: Store, eid: str) -> Iterator[tuple[Any, Any]]:
    """``(input, result)`` pairs of every finished input of ``eid``'s chain, in input order.

    The check (``ResultsNotKept``, ``ExecutionNotFound``) happens at once; the pairs stream."""
    manifests = lineage(store, eid)
    check_kept(store, manifests)
    return _merged(store, manifests)


def _merged(store: Store, manifests: list[Manifest]) -> Iterator[tuple[Any, Any]]:
    """As ``get_state`` counts them: an ancestor's result only for a position the newest
    execution did not rerun (a parent that went on running beside its resume may have finished
    it again), and each root position once."""
    *ancestors, newest = manifests
    own = _roots(store, newest) if ancestors else set()
    streams = [(r for r in _execution_results(store, m) if r[0] not in own) for m in ancestors]
    last = -1
    for root, value, blob in heapq.merge(*streams, _execution_results(store, newest), key=itemgetter(0)):
        if root == last:
            continue  # finished twice along the chain: counted once
        last = root
        yield value, load_result(blob, root)


def _roots(store: Store, manifest: Manifest) -> set[int]:
    """The root positions of every input of ``manifest`` (a resume: the ones it reran or holds)."""
    roots: set[int] = set()
    reader = store.inputs_reader(manifest.id)
    for info in manifest.blocks:
        positions, _ = reader.read(info)
        roots.update(info.positions if positions is None else positions)
    return roots


def _execution_results(store: Store, manifest: Manifest) -> Iterator[tuple[int, Any, bytes]]:
    if not manifest.config.store_results:
        return  # check_kept made sure it finished nothing
    states = store.read_states(manifest)
    reader = store.inputs_reader(manifest.id)
    kept: tuple[int, dict[int, bytes]] = (-1, {})  # the results of the last directory read
    for info in manifest.blocks:
        finished = states[info.block].finished
        if finished:
            if kept[0] != info.inputs_object:  # a pack's results are read once for its blocks
                kept = (-1, {})  # the last one is let go before the next is read
                kept = (info.inputs_object, store.read_directory_results(manifest.id, info))
            yield from block_results(store, manifest.id, info, finished, reader, kept[1])


def block_results(
    store: Store, eid: str, info: BlockInfo, finished: Container[int], reader: InputsReader | None = None,
    kept: dict[int, bytes] | None = None,
) -> Iterator[tuple[int, Any, bytes]]:
    """(root position, input, pickled result) of the finished inputs of one block, in order.
    A finished input without a result is a damaged store (``CorruptSnapshot``). ``reader``: the
    caller's, when it goes through several blocks (a pack is then read once); ``kept``: the
    results of the block's directory, when the caller read them already."""
    positions, values = (reader or store.inputs_reader(eid)).read(info)
    kept = store.read_results(eid, info) if kept is None else kept
    roots = info.positions if positions is None else positions
    for i, pos in enumerate(info.positions):
        if pos not in finished:
            continue
        blob = kept.get(pos)
        if blob is None:
            path = store.layout.results_dir(eid, info.block)
            raise CorruptSnapshot(f"position {pos} of {eid} finished but has no result under {path}", path)
        yield roots[i], values[i], blob
