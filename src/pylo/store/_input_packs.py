"""Input packs: the inputs of several consecutive blocks of one worker in one object.

On an object store a run waits on its request count, not on its bytes (a PUT or a GET of 30 KB
costs about what one of 1 byte does), so planning writes the small blocks of one worker together
and the worker reads them with one GET. A pack is named like its first block
(``inputs/{first}``) and the manifest says which pack holds each block. Its bytes::

    pylo-inputs-pack\\n
    {"format": 1, "first": 40, "sizes": [29778, 29778, ...]}\\n
    the blocks' own serialized inputs (``dump_inputs``), one after the other

The header is JSON, so ``pylo verify`` can check a pack, and each block in it, without running
any pickle.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from ..errors import CorruptSnapshot
from ._segments import _int, _load_json, check_version

__all__ = ["MAGIC", "decode_pack", "encode_pack"]

MAGIC = b"pylo-inputs-pack\n"

# Far more than a header of the largest pack planning writes (see ``pylo._core.plan``).
_MAX_HEADER = 64 * 1024


def encode_pack(first: int, blobs: Sequence[bytes]) -> bytes:
    header = json.dumps({"format": 1, "first": first, "sizes": [len(b) for b in blobs]}, separators=(",", ":"))
    return b"".join([MAGIC, header.encode(), b"\n", *blobs])


def decode_pack(data: bytes, path: str, first: int) -> list[bytes]:
    """The serialized blocks of a pack whose first block is ``first``; ``CorruptSnapshot`` for
    anything that does not add up (never a partial list)."""
    if not data.startswith(MAGIC):
        raise CorruptSnapshot(f"corrupt input pack {path}: not a pylo inputs pack", path)
    end = data.find(b"\n", len(MAGIC), len(MAGIC) + _MAX_HEADER)
    if end < 0:
        raise CorruptSnapshot(f"corrupt input pack {path}: no header", path)
    header = _load_json(data[len(MAGIC) : end], path)
    check_version(header, path)
    try:
        sizes = [_int(n) for n in header["sizes"]]
        if _int(header["first"]) != first or any(n < 0 for n in sizes):
            raise ValueError(f"header {header['first']!r}, sizes {sizes[:3]} for block {first}")
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptSnapshot(f"corrupt input pack {path}: {exc}", path) from exc
    body = memoryview(data)[end + 1 :]
    if sum(sizes) != len(body):
        raise CorruptSnapshot(f"corrupt input pack {path}: {len(body)} bytes for blocks of {sum(sizes)}", path)
    blobs, at = [], 0
    for n in sizes:
        blobs.append(bytes(body[at : at + n]))
        at += n
    return blobs
