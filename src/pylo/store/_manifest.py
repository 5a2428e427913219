"""The manifest ``execution.json``: written once, before any task runs, and never changed."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from .._core.config import Config
from ..errors import CorruptSnapshot
from ._layout import FORMAT_VERSION, validate_execution_id
from ._segments import _int, _load_json, check_version

__all__ = ["BlockInfo", "Manifest"]


@dataclasses.dataclass(frozen=True)
class BlockInfo:
    """Block ``block`` holds the execution's positions ``start … start+count-1``; ``worker`` runs it."""

    block: int
    start: int
    count: int
    worker: int

    @property
    def positions(self) -> range:
        return range(self.start, self.start + self.count)


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

    def worker_blocks(self, worker: int) -> list[BlockInfo]:
        return [b for b in self.blocks if b.worker == worker]

    def encode(self) -> bytes:
        return json.dumps(
            {
                "format": FORMAT_VERSION,
                "id": self.id,
                "parent": self.parent,
                "root": self.root,
                "created": self.created,
                "task": self.task,
                "n_inputs": self.n_inputs,
                "workers": self.workers,
                "blocks": [[b.start, b.count, b.worker] for b in self.blocks],
                "config": self.config.to_json(),
            },
            indent=1,
        ).encode()

    @classmethod
    def decode(cls, data: bytes, path: str) -> Manifest:
        obj = _load_json(data, path)
        check_version(obj, path)
        try:
            config = Config.from_json(dict(obj["config"]))
            blocks = tuple(
                BlockInfo(block=i, start=_int(s), count=_int(c), worker=_int(w))
                for i, (s, c, w) in enumerate(obj["blocks"])
            )
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
            )
        except (KeyError, TypeError, ValueError) as exc:  # InvalidArgument (a bad config) is a ValueError
            raise CorruptSnapshot(f"corrupt manifest {path}: {exc}", path) from exc
        problem = _inconsistency(manifest)
        if problem:
            raise CorruptSnapshot(f"corrupt manifest {path}: {problem}", path)
        return manifest


def _inconsistency(m: Manifest) -> str | None:
    """What does not add up in a manifest, checked before any reader allocates by its counts:
    blocks tile ``0 … n_inputs-1`` in order, none larger than the block size (itself bounded),
    each run by one of ``workers``, and every worker has a block."""
    start = 0
    for b in m.blocks:
        if b.start != start or not 1 <= b.count <= m.config.block_size:
            return f"block {b.block} ({b.start}, {b.count}) does not follow at {start} within {m.config.block_size}"
        if not 0 <= b.worker < m.workers:
            return f"block {b.block} has worker {b.worker}, not one of {m.workers}"
        start += b.count
    if start != m.n_inputs:
        return "block sizes do not add up to n_inputs"
    if not min(1, len(m.blocks)) <= m.workers <= len(m.blocks):
        return f"{m.workers} workers for {len(m.blocks)} blocks"
    return None

