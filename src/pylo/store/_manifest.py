"""The manifest ``execution.json``: written once, before any task runs, and never changed."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

from .._config import Config
from ..errors import CorruptSnapshot
from ._layout import FORMAT_VERSION, validate_execution_id
from ._segments import _int, _load_json, check_version

__all__ = ["HELD", "PACKED_FORMAT", "SHARED_FORMAT", "TAKEN_FORMAT", "BlockInfo", "Manifest", "with_pack_spans"]

#: The worker of a block that no worker runs.
HELD = -1

#: The manifest format whose blocks may share an inputs object (a pack, see ``_input_packs``):
#: a pylo that does not know packs refuses such a manifest instead of missing its inputs.
PACKED_FORMAT = 2

#: The manifest format whose blocks are taken by whichever worker is free, at run time (see
#: ``_takes``): the third field of a block says only whether it runs (0) or is held (-1), and the
#: manifest's ``workers`` is how many started. A pylo that deals blocks to workers at planning
#: refuses it rather than run it with every worker on block 0's chain.
TAKEN_FORMAT = 3

#: ``TAKEN_FORMAT`` whose blocks may keep their inputs in one object shared with the blocks next
#: to them (``shared``), each block still taken, flushed and read on its own: on local disk a
#: large run creates tens of files at planning, not thousands. A pylo that does not know shared
#: objects refuses such a manifest instead of missing its inputs; a run without them keeps
#: ``TAKEN_FORMAT``, so an older pylo still reads it.
SHARED_FORMAT = 4


@dataclasses.dataclass(frozen=True)
class BlockInfo:
    """Block ``block`` holds the execution's positions ``start … start+count-1``.

    ``worker``: in a manifest of ``TAKEN_FORMAT``, 0 for a block that whichever worker is free
    takes at run time; in older manifests, the worker it was dealt to at planning.

    A *held* block (``worker`` is ``HELD``, -1) is run by no worker: it keeps the inputs a resume
    with ``only=`` left out, so they stay unfinished in the new execution and a later resume finds
    them.

    ``pack``: the first block of the pack that holds this block's inputs, or ``None`` when the
    block's inputs are an object of their own. The blocks of a pack also share its progress,
    errors and results directories (named by the pack too), whose objects may cover any of the
    pack's positions, ``pack_span`` (derived from the manifest, never stored).

    ``shared``: the first block of the inputs object this block shares with the blocks that
    follow it, or ``None``. Unlike a pack's, these blocks are blocks of their own in every other
    way: each is taken, flushed and read alone, and has its own directories."""

    block: int
    start: int
    count: int
    worker: int
    pack: int | None = None
    pack_span: range | None = None
    shared: int | None = None

    @property
    def held(self) -> bool:
        return self.worker == HELD

    @property
    def inputs_object(self) -> int:
        """The block whose name this block's directories have: its own, or its pack's."""
        return self.block if self.pack is None else self.pack

    @property
    def inputs_first(self) -> int | None:
        """The first block of the object that holds this block's inputs with others' (its pack
        or its shared object), or ``None`` when the object is the block's alone."""
        return self.pack if self.pack is not None else self.shared

    @property
    def stored_span(self) -> range:
        """The positions the objects of this block's directories may cover."""
        return self.positions if self.pack_span is None else self.pack_span

    @property
    def positions(self) -> range:
        return range(self.start, self.start + self.count)


def with_pack_spans(blocks: Sequence[BlockInfo]) -> tuple[BlockInfo, ...]:
    """``blocks`` with the span of each one's pack filled in (packs are runs of blocks)."""
    stops: dict[int, int] = {}
    for b in blocks:
        if b.pack is not None:
            stops[b.pack] = b.start + b.count
    return tuple(
        b if b.pack is None else dataclasses.replace(b, pack_span=range(blocks[b.pack].start, stops[b.pack]))
        for b in blocks
    )


@dataclasses.dataclass(frozen=True)
class Manifest:
    id: str
    parent: str | None
    root: str
    created: str
    task: str
    n_inputs: int
    workers: int
    blocks: tuple[BlockInfo, ...]
    config: Config
    taken: bool = True  # blocks are taken at run time (``TAKEN_FORMAT``), not dealt at planning

    def worker_blocks(self, worker: int) -> list[BlockInfo]:
        """The blocks dealt to ``worker`` at planning (manifests older than ``TAKEN_FORMAT``)."""
        return [b for b in self.blocks if b.worker == worker]

    def units(self) -> list[tuple[BlockInfo, ...]]:
        """What a worker takes at once, in order: each block, or the blocks of one pack together
        (they share one inputs object). Held blocks are nobody's."""
        out: list[tuple[BlockInfo, ...]] = []
        for b in self.blocks:
            if b.held:
                continue
            if out and b.pack is not None and out[-1][0].pack == b.pack:
                out[-1] = (*out[-1], b)
            else:
                out.append((b,))
        return out

    def encode(self) -> bytes:
        packed = any(b.pack is not None for b in self.blocks)
        shared = _shared_runs(self.blocks)
        if self.taken:
            version = SHARED_FORMAT if shared else TAKEN_FORMAT
        else:
            version = PACKED_FORMAT if packed else FORMAT_VERSION
        return json.dumps(
            {
                "format": version,
                "id": self.id,
                "parent": self.parent,
                "root": self.root,
                "created": self.created,
                "task": self.task,
                "n_inputs": self.n_inputs,
                "workers": self.workers,
                "blocks": [[b.start, b.count, b.worker] + ([] if b.pack is None else [b.pack]) for b in self.blocks],
                "config": self.config.to_json(),
                **({"shared_inputs": shared} if shared else {}),
            },
            indent=1,
        ).encode()

    @classmethod
    def decode(cls, data: bytes, path: str) -> Manifest:
        obj = _load_json(data, path)
        version = check_version(obj, path, (FORMAT_VERSION, PACKED_FORMAT, TAKEN_FORMAT, SHARED_FORMAT))
        try:
            config = Config.from_json(dict(obj["config"]))
            blocks = tuple(_block(i, entry, version) for i, entry in enumerate(obj["blocks"]))
            if version == SHARED_FORMAT:
                blocks = _with_shared(blocks, obj["shared_inputs"])
            manifest = cls(
                id=validate_execution_id(obj["id"]),
                parent=None if obj["parent"] is None else validate_execution_id(obj["parent"]),
                root=validate_execution_id(obj["root"]),
                created=str(obj["created"]),
                task=str(obj["task"]),
                n_inputs=_int(obj["n_inputs"]),
                workers=_int(obj["workers"]),
                blocks=blocks,
                config=config,
                taken=version in (TAKEN_FORMAT, SHARED_FORMAT),
            )
        except (KeyError, TypeError, ValueError) as exc:  # InvalidArgument (a bad config) is a ValueError
            raise CorruptSnapshot(f"corrupt manifest {path}: {exc}", path) from exc
        problem = _inconsistency(manifest)
        if problem:
            raise CorruptSnapshot(f"corrupt manifest {path}: {problem}", path)
        return dataclasses.replace(manifest, blocks=with_pack_spans(manifest.blocks))


def _block(index: int, entry: object, version: int) -> BlockInfo:
    """One manifest entry: ``[start, count, worker]``, then the pack's first block if packed."""
    if not isinstance(entry, list) or len(entry) not in ((3,) if version == FORMAT_VERSION else (3, 4)):
        raise ValueError(f"block {index}: bad entry {entry!r:.80}")
    pack = _int(entry[3]) if len(entry) == 4 else None
    return BlockInfo(block=index, start=_int(entry[0]), count=_int(entry[1]), worker=_int(entry[2]), pack=pack)


def _shared_runs(blocks: Sequence[BlockInfo]) -> list[list[int]]:
    """``[first block, blocks]`` of each shared inputs object, in order: how a manifest stores
    ``shared``."""
    runs: list[list[int]] = []
    for b in blocks:
        if b.shared is None:
            continue
        if runs and runs[-1][0] == b.shared:
            runs[-1][1] += 1
        else:
            runs.append([b.shared, 1])
    return runs


def _with_shared(blocks: tuple[BlockInfo, ...], runs: object) -> tuple[BlockInfo, ...]:
    """``blocks`` with ``shared`` set from a manifest's runs: each a run of consecutive blocks
    that run (not held, not packed), after the run before it."""
    if not isinstance(runs, list) or not runs:
        raise ValueError(f"shared_inputs: bad runs {runs!r:.80}")
    shared: dict[int, int] = {}
    after = 0
    for run in runs:
        if not isinstance(run, list) or len(run) != 2:
            raise ValueError(f"shared_inputs: bad run {run!r:.80}")
        first, count = _int(run[0]), _int(run[1])
        if first < after or count < 1 or first + count > len(blocks):
            raise ValueError(f"shared_inputs: run {run!r:.80} is out of order or out of the blocks")
        for index in range(first, first + count):
            if blocks[index].held or blocks[index].pack is not None:
                raise ValueError(f"shared_inputs: block {index} is held or packed")
            shared[index] = first
        after = first + count
    return tuple(b if b.block not in shared else dataclasses.replace(b, shared=shared[b.block]) for b in blocks)


def _inconsistency(m: Manifest) -> str | None:
    """What does not add up in a manifest, checked before any reader allocates by its counts:
    blocks tile ``0 … n_inputs-1`` in order, none larger than the block size (itself bounded),
    each run by one of ``workers`` or held (run by none), and every worker has a block. Only the
    block of an empty bag partition is empty."""
    start = 0
    for b in m.blocks:
        if b.start != start or not 0 <= b.count <= m.config.block_size:
            return f"block {b.block} ({b.start}, {b.count}) does not follow at {start} within {m.config.block_size}"
        if m.taken and not (b.held or b.worker == 0):
            return f"block {b.block} has worker {b.worker}: blocks are taken at run time (0) or held (-1)"
        if not (b.held or 0 <= b.worker < m.workers):
            return f"block {b.block} has worker {b.worker}, not one of {m.workers}"
        if b.pack is not None and not _packs_with(m, b):
            return f"block {b.block} is in pack {b.pack}, which does not hold it"
        if b.shared is not None and not m.taken:
            return f"block {b.block} shares an inputs object: only blocks taken at run time do"
        start += b.count
    if start != m.n_inputs:
        return "block sizes do not add up to n_inputs"
    running = sum(1 for b in m.blocks if not b.held)
    if not min(1, running) <= m.workers <= running:
        return f"{m.workers} workers for {running} blocks"
    return None



def _packs_with(m: Manifest, b: BlockInfo) -> bool:
    """A pack is a run of consecutive blocks of one worker, named by its first block."""
    p = b.pack
    if p is None or not 0 <= p <= b.block or m.blocks[p].pack != p:
        return False
    before = m.blocks[b.block - 1] if b.block > p else None
    return before is None or (before.pack == p and before.worker == b.worker)
