"""What an execution did, read back from the store: state, exceptions and a summary.

An execution resumed from another one inherits its parent's finished inputs by reference, so
reading the state of ``eid`` follows its lineage of parents up to the root execution. Positions are
always reported in the root's input order.
"""

from __future__ import annotations

import bisect
import heapq
from array import array
from collections.abc import Iterable, Iterator
from operator import itemgetter
from typing import Any

from .plan import Held
from .rerun import Selector, last_failures, reruns
from ..store import BlockInfo, BlockState, ExceptionRecord, InputsReader, Manifest, Positions, Store, to_record
from ..store._segments import to_ranges

__all__ = [
    "iter_finished", "iter_unfinished", "lineage", "read_exceptions", "read_state", "split_unfinished", "unfinished",
    "unfinished_entries",
]


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
    went on running beside its resume may have finished it again).

    Built lean: one pass over ``eid``'s blocks appends each input to its list; positions are
    kept (8 bytes each, in arrays) only where a lineage or held blocks need them for ordering."""
    *ancestors, last = lineage(store, eid)
    split = _Split(bool(ancestors), any(b.held for b in last.blocks))
    states = store.read_states(last)
    reader = store.inputs_reader(last.id)
    for info in last.blocks:
        split.add(info, states[info.block], *_block_items(reader, info))
    if not ancestors:
        return split.finished, split.unfinished()
    inherited = _inherited(store, ancestors, split.own())
    mine = zip(split.finished_roots, split.finished)
    return [value for _, value in heapq.merge(inherited, mine, key=itemgetter(0))], split.unfinished()


class _Split:
    """The inputs of an execution's blocks, sorted into finished and unfinished as they come."""

    def __init__(self, keep_roots: bool, has_held: bool) -> None:
        self.keep_roots = keep_roots
        self.finished: list[Any] = []
        self.finished_roots = array("q")
        self.own_ranges: list[tuple[int, int]] = []
        # Held blocks (a resume with only=) come after the others: their inputs are merged back
        # into root order at the end.
        self.todo: dict[bool, tuple[array[int], list[Any]]] = {False: (array("q"), []), True: (array("q"), [])}
        self.has_held = has_held

    def add(self, info: BlockInfo, state: BlockState, roots: range | list[int], values: list[Any]) -> None:
        roots_out, todo = self.todo[info.held]
        if self.keep_roots:
            self.own_ranges += to_ranges(roots)
        elif not self.has_held and len(state.finished) in (0, info.count):  # the common case, at C speed
            (todo if not state.finished else self.finished).extend(values)
            return
        for i, pos in enumerate(info.positions):
            if pos in state.finished:
                self.finished.append(values[i])
                if self.keep_roots:
                    self.finished_roots.append(roots[i])
            else:
                todo.append(values[i])
                if self.has_held:
                    roots_out.append(roots[i])

    def own(self) -> Positions:
        return Positions(self.own_ranges)

    def unfinished(self) -> list[Any]:
        (run_roots, run), (held_roots, held) = self.todo[False], self.todo[True]
        if not held:
            return run
        return [value for _, value in heapq.merge(zip(run_roots, run), zip(held_roots, held), key=itemgetter(0))]


def iter_finished(store: Store, eid: str) -> Iterator[Any]:
    """The finished inputs of ``get_state``, streamed in input order: one block of each execution
    of the lineage in memory at a time (a resume's inputs are read once more first, to learn which
    root positions it reran)."""
    *ancestors, last = lineage(store, eid)
    states = store.read_states(last)
    if not ancestors:
        return _finished_values(store, last, states)
    mine = _finished_items(store, last, states)
    items = heapq.merge(_inherited(store, ancestors, _roots(store, last)), mine, key=itemgetter(0))
    return (value for _, value in items)


def _finished_values(store: Store, manifest: Manifest, states: dict[int, BlockState]) -> Iterator[Any]:
    """The finished inputs of ``manifest`` alone, in order: whole blocks at C speed."""
    reader = store.inputs_reader(manifest.id)
    for info in manifest.blocks:
        finished = states[info.block].finished
        if finished:
            values = reader.read(info)[1]
            if len(finished) == info.count:
                yield from values
            else:
                yield from (values[i] for i, pos in enumerate(info.positions) if pos in finished)


def iter_unfinished(store: Store, eid: str) -> Iterator[Any]:
    """The unfinished inputs of ``get_state``, streamed in input order."""
    return (value for _, value in unfinished(store, store.read_manifest(eid)))


def _inherited(store: Store, ancestors: list[Manifest], own: Positions) -> Iterator[tuple[int, Any]]:
    streams = [_finished_items(store, m, store.read_states(m)) for m in ancestors]
    return _once(heapq.merge(*streams, key=itemgetter(0)), own)


def _roots(store: Store, manifest: Manifest) -> Positions:
    """The root positions ``manifest`` holds (the ones it reran or held), as ranges."""
    reader = store.inputs_reader(manifest.id)
    return Positions(r for info in manifest.blocks for r in to_ranges(_block_items(reader, info)[0]))


def _once(items: Iterator[tuple[int, Any]], exclude: Positions) -> Iterator[tuple[int, Any]]:
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
