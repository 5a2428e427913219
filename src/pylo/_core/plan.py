"""Partition inputs into blocks and write a new execution to the store, streaming.

The inputs are read once, ``block_size`` at a time, and each block is written as soon as it is
full, so the client's memory grows with the number of blocks, never with the number of inputs.
The manifest is written last, once every block is stored: an execution without a manifest does
not exist, and when planning fails (an input that cannot be serialized, say) the blocks already
written are removed.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from collections.abc import Callable, Iterable, Iterator, Sized
from typing import Any

from .._clock import utc_text
from .config import Config
from ..errors import InvalidArgument
from .background_writes import BackgroundWrites
from ..store import BlockInfo, Manifest, Store, dump_inputs, encode_pack, new_execution_id
from ..store._manifest import HELD, with_pack_spans

#: (root position, input, last raw exception record or None) of an input a resume left out.
Held = tuple[int, Any, "dict[str, Any] | None"]

#: The writer id of the records a held block carries over (no worker writes to a held block).
HELD_WRITER = "000000000000"

__all__ = ["plan_execution", "task_name"]

# Input blocks uploaded at once while the next ones are serialized.
UPLOAD_THREADS = 8
LOCAL_UPLOAD_THREADS = 4

# On local disk the first inputs objects are fsynced one by one as they are written; past them,
# objects are written without an fsync and one ``syncfs`` of the file system makes them all
# durable (Linux): thousands of objects cost one call, not thousands, while a small run does not
# wait for whatever else is being written to that file system.
EACH_SYNCED = 256

# Inputs of unknown count held at most while deciding how to split them (a generator's).
SPREAD_LIMIT = 1_000_000

# On an object store, consecutive blocks of one worker share one inputs object (a pack) while it
# stays under both limits: one PUT at planning and one GET on the worker instead of one per block.
PACK_BLOCKS = 16
PACK_BYTES = 4 * 2**20

# On local disk, consecutive blocks keep their inputs in one shared object while it stays under
# both limits, each block still taken alone: 1,890 blocks of 256 workers in one process made
# 1,890 files, and planning took 0.4-1.0 s of a 4.4 s run waiting on their creation. A worker
# reads the whole object for one block, so the bytes stay few (a page-cache read of 256 KB
# costs tens of microseconds).
SHARE_BLOCKS = 64
SHARE_BYTES = 256 * 2**10


def plan_execution(
    store: Store,
    inputs: Iterable[Any],
    task: Callable[[Any], object],
    config: Config,
    workers: int,
    *,
    parent: Manifest | None = None,
    positions: Iterable[int] | None = None,
    held: Iterable[Held] = (),
) -> Manifest:
    """Store ``inputs`` as the blocks of a new execution and return its manifest.

    ``positions`` (for a resume) gives each input's position in the root execution. ``held`` (a
    resume with ``only=``): the inputs left out, stored in held blocks after the others, each with
    its last raw exception record (or ``None``), which the new execution keeps as its own.
    """
    total = len(inputs) if isinstance(inputs, Sized) else None
    try:
        values = iter(inputs)
    except TypeError:
        raise InvalidArgument(f"inputs must be iterable, got {type(inputs).__name__}") from None
    eid = new_execution_id()
    try:
        manifest = _write(store, eid, values, total, task, config, workers, parent, positions, held)
    except BaseException:  # an input that cannot be serialized, a damaged parent, Ctrl-C…
        store.discard(eid)  # no manifest was written: remove the blocks that were
        raise
    return manifest


def _write(
    store: Store,
    eid: str,
    values: Iterator[Any],
    total: int | None,
    task: Callable[[Any], object],
    config: Config,
    workers: int,
    parent: Manifest | None,
    positions: Iterable[int] | None,
    held: Iterable[Held] = (),
) -> Manifest:
    """Store the input blocks, then the held ones, then (once every block is stored) the manifest."""
    # Blocks are serialized here, in order (an unserializable input is named at once), and
    # uploaded by helper threads: on an object store the PUT latencies overlap, on local disk
    # their fsyncs do.
    store.prepare(eid)
    threads = LOCAL_UPLOAD_THREADS if store.files.local else UPLOAD_THREADS
    uploads = BackgroundWrites(threads=threads, depth=2 * threads)
    writer = _InputsWriter(store, eid, uploads)
    try:
        blocks = _write_blocks(writer, values, total, config.block_size, workers, positions)
        for chunk in _batches(iter(held), config.block_size):
            blocks.append(_write_held(writer, chunk, len(blocks), _end(blocks), parent))
        uploads.wait()
    finally:
        uploads.close()
    if blocks:  # every block durable, before the manifest
        store.keep_inputs(eid, deferred=writer.objects > EACH_SYNCED)
    manifest = _new_manifest(eid, parent, with_pack_spans(blocks), task, config)
    # as many workers start as there are units to take, at most: one without would never end
    manifest = dataclasses.replace(manifest, workers=min(workers, len(manifest.units())))
    store.write_manifest(manifest)
    return manifest


def _write_blocks(
    writer: _InputsWriter, values: Iterator[Any], total: int | None, block_size: int, workers: int,
    positions: Iterable[int] | None,
) -> list[BlockInfo]:
    """Serialize ``values`` block by block, in order, and hand each to ``writer``: on local disk
    consecutive blocks share objects; on an object store, with a known count, consecutive full
    blocks make packs (an unknown count cannot size them)."""
    local = writer.store.files.local
    group: _Group | None = None
    if local:
        group = _Group(writer, SHARE_BLOCKS, SHARE_BYTES)
    elif total is not None:
        sizes = block_sizes(total, block_size, workers, OBJECT_STORE_TAIL_BLOCKS)
        group = _Group(writer, _pack_limit(sizes, block_size, workers), PACK_BYTES)
    tail = TAIL_BLOCKS if local else OBJECT_STORE_TAIL_BLOCKS
    blocks: list[BlockInfo] = []
    for index, chunk in enumerate(_chunks(values, block_size, workers, total, tail)):
        start = _end(blocks)
        roots = None if positions is None else list(itertools.islice(positions, len(chunk)))
        data = dump_inputs(roots, chunk, start)
        info = BlockInfo(block=index, start=start, count=len(chunk), worker=0)
        if group is None:
            writer.write(index, data)
        elif local:
            info = dataclasses.replace(info, shared=group.add(index, data))
        elif len(chunk) >= block_size:  # a pack is taken whole: full blocks only
            info = dataclasses.replace(info, pack=group.add(index, data))
        else:
            group.flush()  # a short block goes alone: the pack before it is complete
            writer.write(index, data)
        blocks.append(info)
    if group is not None:
        group.flush()
    return blocks


class _InputsWriter:
    """Hands the inputs objects of a new execution to the upload threads, and counts them: past
    the first ``EACH_SYNCED`` on local disk, one ``syncfs`` makes the rest durable at once."""

    def __init__(self, store: Store, eid: str, uploads: BackgroundWrites) -> None:
        self.store, self.eid, self.uploads = store, eid, uploads
        self.objects = 0

    def write(self, first: int, data: bytes) -> None:
        """Upload the inputs object named by block ``first``."""
        self.uploads.submit(functools.partial(self.store.write_inputs, self.eid, first, data, keep_name=False,
                                              defer_sync=self.objects >= EACH_SYNCED))
        self.objects += 1

    def write_records(self, block: int, records: list[dict[str, Any]]) -> None:
        """Upload the records a held block carries over."""
        self.uploads.submit(functools.partial(self.store.write_records, self.eid, block, records, 0, HELD_WRITER))


def _end(blocks: list[BlockInfo]) -> int:
    """The position after the last of ``blocks``: where the next block starts."""
    return blocks[-1].start + blocks[-1].count if blocks else 0


def _new_manifest(
    eid: str, parent: Manifest | None, blocks: tuple[BlockInfo, ...], task: Callable[[Any], object],
    config: Config, workers: int = 0,
) -> Manifest:
    """The manifest of a new execution over ``blocks``, created now."""
    return Manifest(
        id=eid,
        parent=parent.id if parent else None,
        root=parent.root if parent else eid,
        created=utc_text(),
        task=task_name(task),
        n_inputs=sum(b.count for b in blocks),
        workers=workers,
        blocks=blocks,
        config=config,
    )


class _Group:
    """Gathers consecutive blocks into one inputs object (a pack, or an object they share) of at
    most ``blocks`` blocks and ``limit`` bytes, and writes each when it is full."""

    def __init__(self, writer: _InputsWriter, blocks: int, limit: int) -> None:
        self.writer, self.blocks, self.limit = writer, blocks, limit
        self.first, self.size = 0, 0
        self.blobs: list[bytes] = []

    def add(self, index: int, data: bytes) -> int:
        """Put block ``index`` in an object; return the object's first block."""
        if self.blobs and (len(self.blobs) >= self.blocks or self.size + len(data) > self.limit):
            self.flush()
        if not self.blobs:
            self.first = index
        self.blobs.append(data)
        self.size += len(data)
        return self.first

    def flush(self) -> None:
        if self.blobs:
            self.writer.write(self.first, encode_pack(self.first, self.blobs))
        self.blobs, self.size = [], 0


def _write_held(
    writer: _InputsWriter, chunk: list[Held], index: int, start: int, parent: Manifest | None,
) -> BlockInfo:
    """One held block: its inputs, and the last failure of each as this execution's record."""
    roots = [root for root, _, _ in chunk]
    writer.write(index, dump_inputs(roots, [value for _, value, _ in chunk], start))
    carried = [
        {**rec, "pos": start + i, "carried_from": parent.id if parent else None}
        for i, (_, _, rec) in enumerate(chunk) if rec is not None
    ]
    if carried:
        writer.write_records(index, carried)
    return BlockInfo(block=index, start=start, count=len(chunk), worker=HELD)


def _batches(values: Iterator[Any], size: int) -> Iterator[list[Any]]:
    while chunk := list(itertools.islice(values, size)):
        yield chunk


def _chunks(values: Iterator[Any], block_size: int, workers: int, total: int | None = None,
            tail: int = 0) -> Iterator[list[Any]]:
    """Blocks of ``block_sizes`` for a known ``total``; of unknown count, blocks of
    ``block_size``, or, when everything fits in fewer than one block per worker, the inputs
    spread evenly over the workers, so small runs still use them all.

    Streamed: with a known ``total`` one block is held at a time; otherwise at most
    ``SPREAD_LIMIT`` inputs are held while deciding, however many workers there are."""
    if total is not None:
        for size in block_sizes(total, block_size, workers, tail or TAIL_BLOCKS):
            chunk = list(itertools.islice(values, size))
            if not chunk:
                return
            yield chunk
        while chunk := list(itertools.islice(values, block_size)):  # a ``len`` that said too little
            yield chunk
        return
    head = list(itertools.islice(values, min(block_size * workers, SPREAD_LIMIT)))
    if len(head) < min(block_size * workers, SPREAD_LIMIT):
        if head:
            size = math.ceil(len(head) / workers)
            yield from (head[i : i + size] for i in range(0, len(head), size))
        return
    size = min(block_size, max(1, len(head) // workers))
    for i in range(0, len(head), size):
        yield head[i : i + size]
    del head
    while chunk := list(itertools.islice(values, size)):
        yield chunk


# Blocks are sized so that there are about this many per worker while the run is young, and
# they shrink toward its end (guided self-scheduling): a free worker always finds a small block
# to take, so the end of a run never waits on one worker's big block, and workers that join a
# growing cluster find work. The smallest block is 1/TAIL_BLOCKS of a worker's share, so the
# tail adds a bounded number of blocks however large the run, and holds MIN_BLOCK inputs at
# least (each block costs an inputs object, a take and a segment), unless fewer spread the
# inputs over every worker. Four blocks per worker, not eight: the skew and elastic cases end as
# soon (1.36-1.39x and 0.99-1.01x hand-batched Dask with either), and 256 workers of 40 inputs
# each make 1,890 blocks instead of 2,458; two made the first blocks of a growing cluster too big
# for the workers that join (elastic 0.83x).
BLOCKS_PER_WORKER = 4
TAIL_BLOCKS = 64
MIN_BLOCK = 4
# On an object store a block costs requests (its inputs, its take, its segments: tens of
# milliseconds), so the tail stops shrinking at 1/8 of a worker's share (at most ``block_size``).
OBJECT_STORE_TAIL_BLOCKS = 8


def block_sizes(total: int, block_size: int, workers: int, tail: int = TAIL_BLOCKS) -> list[int]:
    """The sizes of the blocks of ``total`` inputs for ``workers`` workers: at most
    ``block_size``, each about ``1/BLOCKS_PER_WORKER`` of what a worker has left to do, never
    below ``smallest_block`` (``1/tail`` of a worker's share). Pure."""
    workers = max(1, workers)
    smallest = smallest_block(total, workers, tail)
    sizes: list[int] = []
    left = total
    while left > 0:
        size = min(block_size, left, max(smallest, math.ceil(left / (BLOCKS_PER_WORKER * workers))))
        sizes.append(size)
        left -= size
    return sizes


def smallest_block(total: int, workers: int, tail: int = TAIL_BLOCKS) -> int:
    """The size blocks shrink to at the end of a run of ``total`` inputs over ``workers``."""
    share = total // workers  # no larger: every worker has a block at least
    return max(1, min(share, max(MIN_BLOCK, math.ceil(total / (tail * workers)))))


def _pack_limit(sizes: list[int] | None, block_size: int, workers: int) -> int:
    """Blocks per pack: at most ``PACK_BLOCKS``, and few enough that every worker can take
    several packs (a pack is taken whole)."""
    full = sum(1 for s in sizes or () if s == block_size)
    return max(1, min(PACK_BLOCKS, full // (4 * max(1, workers))))


def task_name(task: Callable[..., object]) -> str:
    """``module:qualname`` of a function; a readable stand-in for partials and callable objects."""
    inner = getattr(task, "func", task)  # functools.partial
    module = getattr(inner, "__module__", None) or type(inner).__module__
    qualname = getattr(inner, "__qualname__", None) or type(inner).__qualname__
    return f"{module}:{qualname}"


def write_manifest_of(
    store: Store, eid: str, counts: list[int], task: Callable[[Any], object], config: Config, workers: int
) -> Manifest:
    """Write the manifest of a new execution whose input blocks, of ``counts`` inputs each, were
    stored by someone else (the Dask workers that computed a bag's partitions); workers take
    them at run time."""
    blocks, start = [], 0
    for index, count in enumerate(counts):
        blocks.append(BlockInfo(block=index, start=start, count=count, worker=0))
        start += count
    manifest = _new_manifest(eid, None, tuple(blocks), task, config, min(workers, len(blocks)))
    store.write_manifest(manifest)
    return manifest
