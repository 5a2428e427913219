"""What an execution kept, read back as Dask bags on the workers: its results, its finished and
its unfinished inputs.

    client: manifests, block states (one listing and one batched read per execution),
            one listing of each execution's results ──► one partition per inputs object
    worker: partition ─► GET its inputs object once, GET each results object once ─► its items

A partition follows what is stored: one inputs object (a block, or a pack of consecutive blocks)
and the results objects of its directory, so each stored object is read once, as ``get_results``
reads it, never once per block of a pack. Each worker process reads at most
``READS_PER_PROCESS`` partitions at a time, whatever its thread count, so a wide cluster does not
turn a read into a storm of requests that an object store throttles.

Across a lineage of resumes each root position counts once: an ancestor's partition leaves out the
positions its child ran again (read on the workers from the child's inputs), so an input
finished twice, by a parent that went on running beside its resume, comes from the newer run.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from .._core.results import block_results, check_kept
from .._core.state import lineage
from ..store import BlockInfo, BlockState, Manifest, Positions, Store
from ..store._results import load_result
from ..store._segments import to_ranges

__all__ = ["READS_PER_PROCESS", "Part", "results_bag", "state_bags"]

#: Partitions one worker process reads at the same time.
READS_PER_PROCESS = 2

_reads = threading.BoundedSemaphore(READS_PER_PROCESS)


@dataclasses.dataclass(frozen=True)
class Part:
    """What one partition reads: one inputs object of execution ``eid`` (its ``blocks``, with
    what each finished) and the results objects of its directory."""

    eid: str
    blocks: tuple[BlockInfo, ...]
    finished: tuple[Positions, ...]
    results: tuple[str, ...] = ()


def results_bag(store: Store, eid: str) -> Any:
    """The kept ``(input, result)`` pairs of ``eid``'s lineage as a ``dask.bag.Bag``. Partitions
    come execution by execution along the lineage (the root's first), each in input order."""
    manifests = lineage(store, eid)
    states = [store.read_states(m) for m in manifests]
    check_kept(store, manifests, states)
    return _lineage_bag(store, manifests, states, _read_results, with_results=True)


def state_bags(store: Store, eid: str) -> tuple[Any, Any]:
    """``(finished, unfinished)`` inputs of ``eid`` as two ``dask.bag.Bag``, read on the workers:
    the finished ones of the whole lineage (as ``results_bag``'s partitions), and the failed or
    pending ones of ``eid``, one partition per inputs object, each in input order."""
    manifests = lineage(store, eid)
    states = [store.read_states(m) for m in manifests]
    finished = _lineage_bag(store, manifests, states, _read_finished, with_results=False)
    newest, newest_states = manifests[-1], states[-1]
    todo = _parts(store, newest, newest_states, _has_unfinished, with_results=False)
    return finished, _bag(store, [(part, None) for part in todo], _read_unfinished)


# -- the client: which partitions --------------------------------------------------------------


Reader = Callable[[Store, Part, Positions | None], list[Any]]


def _lineage_bag(
    store: Store, manifests: list[Manifest], states: list[dict[int, BlockState]], read: Reader, *, with_results: bool
) -> Any:
    tasks: list[tuple[Part, Any]] = []
    for i, manifest in enumerate(manifests):
        rerun = None if i + 1 == len(manifests) else _roots(store, manifests[i + 1])
        tasks += [(part, rerun) for part in _parts(store, manifest, states[i], _has_finished, with_results)]
    return _bag(store, tasks, read)


def _has_finished(info: BlockInfo, state: BlockState) -> bool:
    return bool(state.finished)


def _has_unfinished(info: BlockInfo, state: BlockState) -> bool:
    return len(state.finished) < info.count


def _parts(
    store: Store, manifest: Manifest, states: dict[int, BlockState], want: Callable[[BlockInfo, BlockState], bool],
    with_results: bool,
) -> list[Part]:
    """One part per inputs object of ``manifest`` that holds a block ``want`` accepts."""
    listing = _results_listing(store, manifest.id) if with_results else {}
    groups: dict[int, list[BlockInfo]] = {}
    for info in manifest.blocks:
        if want(info, states[info.block]):
            groups.setdefault(info.inputs_object, []).append(info)
    return [
        Part(manifest.id, tuple(blocks), tuple(states[b.block].finished for b in blocks), tuple(listing.get(obj, ())))
        for obj, blocks in groups.items()
    ]


def _results_listing(store: Store, eid: str) -> dict[int, list[str]]:
    """The results objects of ``eid`` by directory (block or pack), from one listing."""
    base = store.layout.results_dir(eid)
    out: dict[int, list[str]] = {}
    for path in store.files.find(base):
        directory = path[len(base) + 1 :].split("/", 1)[0]
        if directory.isdigit():  # anything else is refused by the read that uses the listing
            out.setdefault(int(directory), []).append(path)
    return out


def _roots(store: Store, manifest: Manifest) -> Any:
    """A delayed ``Positions``: the root positions ``manifest`` holds (it reran or held them)."""
    from dask.delayed import delayed

    objects: dict[int, list[BlockInfo]] = {}
    for info in manifest.blocks:
        objects.setdefault(info.inputs_object, []).append(info)
    ranges = [delayed(_roots_of, pure=True)(store, manifest.id, tuple(b)) for b in objects.values()]
    return delayed(_positions, pure=True)(ranges)


def _bag(store: Store, tasks: Sequence[tuple[Part, Any]], read: Reader) -> Any:
    import dask.bag as db
    from dask.delayed import delayed

    if not tasks:
        return db.from_sequence([], npartitions=1)
    return db.from_delayed([delayed(read, pure=True)(store, part, rerun) for part, rerun in tasks])


# -- the workers: reading one partition ----------------------------------------------------------


def _read_results(store: Store, part: Part, rerun: Positions | None) -> list[tuple[Any, Any]]:
    with _reads:
        reader = store.inputs_reader(part.eid)
        kept = store.read_directory_results(part.eid, part.blocks[0], list(part.results)) if part.results else {}
        return [
            (value, load_result(blob, root))
            for info, finished in zip(part.blocks, part.finished)
            for root, value, blob in block_results(store, part.eid, info, finished, reader, kept)
            if rerun is None or root not in rerun
        ]


def _read_finished(store: Store, part: Part, rerun: Positions | None) -> list[Any]:
    return [value for root, value, done in _items(store, part) if done and (rerun is None or root not in rerun)]


def _read_unfinished(store: Store, part: Part, rerun: Positions | None) -> list[Any]:
    return [value for _, value, done in _items(store, part) if not done]


def _items(store: Store, part: Part) -> Iterator[tuple[int, Any, bool]]:
    """(root position, input, finished) of every input of the part's blocks, in order."""
    with _reads:
        reader = store.inputs_reader(part.eid)
        loaded = [(info, finished, reader.read(info)) for info, finished in zip(part.blocks, part.finished)]
    for info, finished, (positions, values) in loaded:
        roots = info.positions if positions is None else positions
        for i, pos in enumerate(info.positions):
            yield roots[i], values[i], pos in finished


def _roots_of(store: Store, eid: str, blocks: tuple[BlockInfo, ...]) -> list[tuple[int, int]]:
    with _reads:
        reader = store.inputs_reader(eid)
        ranges: list[tuple[int, int]] = []
        for info in blocks:
            positions, _ = reader.read(info)
            ranges += to_ranges(info.positions if positions is None else positions)
    return ranges


def _positions(ranges: list[list[tuple[int, int]]]) -> Positions:
    return Positions(r for part in ranges for r in part)
