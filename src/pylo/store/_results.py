"""Results objects: the return values of the inputs one flush finished (``store_results=True``).

    results/{block}/{seq}-{writer}:  {"format", "positions", "sizes"} as one JSON line, then the
                                     pickles of the values, one after the other

Each value is pickled on its own when its attempt ends, so a value that cannot be serialized
fails that attempt (and only it), and a value that no longer loads spoils only itself. The
container is JSON: listing what an object holds never runs a pickle.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from typing import Any

import cloudpickle

from ..errors import CorruptSnapshot, ResultNotSerializable
from ._layout import FORMAT_VERSION
from ._segments import check_version

__all__ = ["decode_results", "dump_result", "encode_results", "keeping_results", "load_result", "short_repr"]


# Values of these exact types always pickle and load back: no check needed (the common case).
_PLAIN = frozenset({int, float, str, bytes, bool, type(None)})


def dump_result(value: object, given: object) -> bytes:
    """The pickle of one return value, checked to load back. Raises ``ResultNotSerializable``
    naming the input ``given`` whose result it is."""
    if type(value) in _PLAIN:
        return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    try:
        try:
            data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # lambdas, local classes…: by value
            data = cloudpickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        pickle.loads(data)
    except Exception as exc:  # the user's object failed to serialize or to come back
        raise ResultNotSerializable(
            f"the result of input {short_repr(given)} ({type(value).__qualname__}) cannot be serialized "
            f"and loaded back, so it cannot be kept: {exc!r}"
        ) from exc
    return data


def keeping_results(call: Callable[[Any], object], out: list[bytes]) -> Callable[[Any], object]:
    """``call`` that also appends the pickle of each return value to ``out``: one entry per
    successful attempt, in order, so ``out`` lines up with the positions the block finished."""

    def call_and_keep(value: Any) -> object:
        result = call(value)
        out.append(dump_result(result, value))
        return result

    return call_and_keep


def encode_results(positions: list[int], blobs: list[bytes]) -> bytes:
    header = {"format": FORMAT_VERSION, "positions": positions, "sizes": [len(b) for b in blobs]}
    return b"".join([json.dumps(header, separators=(",", ":")).encode(), b"\n", *blobs])


def decode_results(data: bytes, path: str) -> dict[int, bytes]:
    """Position -> pickle of its value; refuses anything malformed."""
    head, sep, body = data.partition(b"\n")
    try:
        header = json.loads(head)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptSnapshot(f"corrupt results object {path}: {exc}", path) from exc
    if not sep or not isinstance(header, dict):
        raise CorruptSnapshot(f"corrupt results object {path}", path)
    check_version(header, path)
    positions, sizes = header.get("positions"), header.get("sizes")
    if not (isinstance(positions, list) and isinstance(sizes, list) and len(positions) == len(sizes)
            and all(type(n) is int and n >= 0 for n in (*positions, *sizes)) and sum(sizes) == len(body)):
        raise CorruptSnapshot(f"corrupt results object {path}: sizes do not add up", path)
    out: dict[int, bytes] = {}
    offset = 0
    for pos, size in zip(positions, sizes):
        out[pos] = body[offset : offset + size]
        offset += size
    return out


def load_result(data: bytes, position: int) -> Any:
    """Unpickle one stored value (the store must be trusted: this runs its code)."""
    try:
        return pickle.loads(data)
    except Exception as exc:  # its class moved, or its own code fails now
        raise CorruptSnapshot(f"the result of position {position} cannot be loaded: {exc!r}") from exc


def short_repr(value: object, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters, for messages naming a user's input."""
    try:
        text = repr(value)
    except Exception:  # a broken __repr__ of the user's input
        return f"<{type(value).__qualname__}>"
    return text if len(text) <= limit else text[: limit - 1] + "…"
