"""Names no other writer makes, without a system call each.

A temp file's name, a writer's id: ``uuid4`` reads the system's randomness for each one, a system
call that lets every other thread of the process take the interpreter. Hundreds of workers in one
process made several a block. Here a process draws its randomness once (again in a forked child)
and counts from it: names made by one process never repeat, and two processes collide only if
their random starts fall within as many names of each other.
"""

from __future__ import annotations

import itertools
import os

__all__ = ["unique_hex"]


def _draw() -> None:
    global _START, _COUNTER
    _START = int.from_bytes(os.urandom(16), "big")
    _COUNTER = itertools.count()


_START = 0
_COUNTER = itertools.count()
_draw()
os.register_at_fork(after_in_child=_draw)


def unique_hex(digits: int = 32) -> str:
    """``digits`` (at most 32) lowercase hex digits, never the same twice in this process."""
    return f"{(_START + next(_COUNTER)) % (1 << 128):032x}"[-digits:]
