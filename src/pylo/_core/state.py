"""What an execution did, read back from the store: state, exceptions and a summary.

An execution resumed from another one inherits its parent's finished inputs by reference, so
reading the state of ``eid`` follows its lineage of parents up to the root execution. Positions are
always reported in the root's input order.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Iterable, Iterator
from operator import itemgetter
from typing import Any

from .plan import Held
from .rerun import Selector, last_failures, reruns
from ..store import BlockInfo, BlockState, ExceptionRecord, InputsReader, Manifest, Store, to_record

__all__ = ["lineage", "read_exceptions", "read_state", "split_unfinished", "unfinished", "unfinished_entries"]


def lineage(store: Store, eid: str) -> list[Manifest]:
    """The lineage of ``eid``: the manifests from the root execution down to ``eid``, each one a
    resume of the one before. (A worker's *chain* is something else: its blocks, ``_core.chain``.)"""
    manifests = [store.read_manifest(eid)]
    seen = {eid}
    while (parent := manifests[-1].parent) is not None:
        if parent in seen:  # pragma: no cover - ids are fresh, a loop means a hand-edited store
            break
        seen.add(parent)
        manifests.append(store.read_manifest(parent))
    manifests.reverse()
    return manifests


def _block_items(reader: InputsReader, info: BlockInfo) -> tuple[range | list[int], list[Any]]:
    """(root positions, values) of one block, position i of the block at index i."""
    positions, values = reader.read(info)
    return (info.positions if positions is None else list(positions)), values


def _finished_items(store: Store, manifest: Manifest, states: dict[int, BlockState]) -> Iterator[tuple[int, Any]]:
    reader = store.inputs_reader(manifest.id)
    for info in manifest.blocks:
        state = states[info.block]
        if not state.finished:
            continue
        roots, values = _block_items(reader, info)
        for i, pos in enumerate(info.positions):
            if pos in state.finished:
                yield roots[i], values[i]


def _unfinished_items(
    store: Store, manifest: Manifest, states: dict[int, BlockState], blocks: Iterable[BlockInfo]
) -> Iterator[tuple[int, int, Any, bool]]:
    reader = store.inputs_reader(manifest.id)
    for info in blocks:
        state = states[info.block]
        if len(state.finished) == info.count:
            continue  # nothing to read: every input of the block finished
        roots, values = _block_items(reader, info)
        for i, pos in enumerate(info.positions):
            if pos not in state.finished:
                yield pos, roots[i], values[i], pos in state.failed


def unfinished(store: Store, manifest: Manifest) -> Iterator[tuple[int, Any]]:
    """(root position, input) of every failed or pending input of ``manifest``, in order; lazily,
    one block in memory at a time (two with held blocks, which come after the run ones)."""
    return ((root, value) for _, root, value, _ in unfinished_entries(store, manifest))


def unfinished_entries(store: Store, manifest: Manifest) -> Iterator[tuple[int, int, Any, bool]]:
    """(position, root position, input, attempted) of every unfinished input of ``manifest``, in
    root order; ``attempted``: it failed here (the others are pending)."""
    states = store.read_states(manifest)
    held = [b for b in manifest.blocks if b.held]
    if not held:
        return _unfinished_items(store, manifest, states, manifest.blocks)
    run = [b for b in manifest.blocks if not b.held]
    return heapq.merge(
        _unfinished_items(store, manifest, states, run),
        _unfinished_items(store, manifest, states, held),
        key=itemgetter(1),
    )


def split_unfinished(
    store: Store, manifest: Manifest, select: Selector | None, pending: bool
) -> tuple[Iterator[tuple[int, Any]], Iterator[Held]]:
    """The unfinished inputs of ``manifest`` that a resume reruns, as (root, input), and those
    it leaves out, as (root, input, last raw record); two lazy passes over the inputs."""
    last = last_failures(store.read_records(manifest))

    def decide() -> Iterator[tuple[bool, int, Any, dict[str, Any] | None]]:
        for pos, root, value, attempted in unfinished_entries(store, manifest):
            raw = last.get(pos)
            record = None if raw is None else to_record(raw, value=value, position=root)
            yield reruns(record, attempted, select, pending), root, value, raw

    rerun = ((root, value) for chosen, root, value, _ in decide() if chosen)
    held = ((root, value, raw) for chosen, root, value, raw in decide() if not chosen)
    return rerun, held


def read_state(store: Store, eid: str) -> tuple[list[Any], list[Any]]:
    """(finished, unfinished) inputs of ``eid``, in the root's input order, each root position
    once: an ancestor's finished input counts only when ``eid`` did not rerun it (a parent that
    went on running beside its resume may have finished it again)."""
    manifests = lineage(store, eid)
    last = manifests[-1]
    states = store.read_states(last)
    own: set[int] = set()
    mine: list[tuple[int, Any]] = []
    todo: list[tuple[int, Any]] = []
    reader = store.inputs_reader(last.id)
    for info in last.blocks:
        state = states[info.block]
        roots, values = _block_items(reader, info)
        own.update(roots)
        for i, pos in enumerate(info.positions):
            (mine if pos in state.finished else todo).append((roots[i], values[i]))
    todo.sort(key=itemgetter(0))  # held blocks (a resume with only=) come after the others
    streams = [_finished_items(store, m, store.read_states(m)) for m in manifests[:-1]]
    inherited = _once(heapq.merge(*streams, key=itemgetter(0)), own)
    finished = [value for _, value in heapq.merge(inherited, iter(mine), key=itemgetter(0))]
    return finished, [value for _, value in todo]


def _once(items: Iterator[tuple[int, Any]], exclude: set[int]) -> Iterator[tuple[int, Any]]:
    """The items of a position-sorted stream whose position is new and not in ``exclude``."""
    last = -1
    for pos, value in items:
        if pos != last and pos not in exclude:
            yield pos, value
        last = pos


def read_exceptions(store: Store, eid: str, select: Selector | None = None) -> list[ExceptionRecord]:
    """The exception records of ``eid`` (not of its parents), by input position then attempt;
    with ``select``, only those it accepts."""
    manifest = store.read_manifest(eid)
    raw = store.read_records(manifest)
    if not raw:
        return []
    starts = [b.start for b in manifest.blocks]
    by_block: dict[int, list[dict[str, Any]]] = {}
    for rec in raw:
        block = bisect.bisect_right(starts, rec["pos"]) - 1
        by_block.setdefault(max(block, 0), []).append(rec)
    records = []
    reader = store.inputs_reader(manifest.id)
    for block, recs in sorted(by_block.items()):  # in block order: a pack is read once
        info = manifest.blocks[block]
        roots, values = _block_items(reader, info)
        for rec in recs:
            i = rec["pos"] - info.start
            if 0 <= i < info.count:
                record = to_record(rec, value=values[i], position=roots[i])
                if select is None or select(record):
                    records.append(record)
    records.sort(key=lambda r: (r.position, r.attempt))
    return records
