"""Input packs: the inputs of several consecutive blocks in one object.

On an object store a run waits on its request count, not on its bytes (a PUT or a GET of 30 KB
costs about what one of 1 byte does), so planning writes the small blocks of one worker together
and the worker reads them with one GET: a pack is taken whole. On local disk a run waits on its
file creations (each a system call that a process of hundreds of busy threads pays dearly), so
planning writes consecutive blocks in one object *shared* by blocks that are otherwise their own
(``BlockInfo.shared``): each is taken alone and reads only its own part. Either object is named
like its first block (``inputs/{first}``) and the manifest says which one holds each block. Its
bytes::

    pylo-inputs-pack\n
    {"format": 1, "first": 40, "sizes": [29778, 29778, ...]}\n
    the blocks' own serialized inputs (``dump_inputs``), one after the other

The header is JSON, so ``pylo verify`` can check a pack, and each block in it, without running
any pickle.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from ..errors import CorruptSnapshot
from ._segments import _int, _load_json, check_version

__all__ = ["MAGIC", "decode_pack", "encode_pack", "pack_block"]

MAGIC = b"pylo-inputs-pack\n"

# Far more than a header of the largest pack planning writes (see ``pylo._core.plan``).
_MAX_HEADER = 64 * 1024


def encode_pack(first: int, blobs: Sequence[bytes]) -> bytes:
    header = json.dumps({"format": 1, "first": first, "sizes": [len(b) for b in blobs]}, separators=(",", ":"))
    return b"".join([MAGIC, header.encode(), b"\n", *blobs])


def decode_pack(data: bytes, path: str, first: int) -> list[bytes]:
    """The serialized blocks of a pack whose first block is ``first``; ``CorruptSnapshot`` for
    anything that does not add up (never a partial list)."""
    body, sizes = _parts(data, path, first)
    blobs, at = [], 0
    for n in sizes:
        blobs.append(bytes(body[at : at + n]))
        at += n
    return blobs


def pack_block(data: bytes, path: str, first: int, index: int) -> memoryview:
    """The serialized inputs of block ``first + index`` of an object of this form (read in
    place: the others' are not copied)."""
    body, sizes = _parts(data, path, first)
    if not 0 <= index < len(sizes):
        raise CorruptSnapshot(f"corrupt input pack {path}: no block {first + index} in it", path)
    at = sum(sizes[:index])
    return body[at : at + sizes[index]]


def _parts(data: bytes, path: str, first: int) -> tuple[memoryview, list[int]]:
    """(body, the size of each block in it) of an object whose first block is ``first``."""
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
    return body, sizes
