"""Names no other writer makes: counted from one random draw per process, drawn again in a
forked child."""

from __future__ import annotations

import os

from pylo.store._unique import unique_hex


def test_names_are_hex_of_the_length_asked_and_never_repeat() -> None:
    names = [unique_hex() for _ in range(10_000)]
    assert len(set(names)) == len(names)
    assert all(len(n) == 32 and int(n, 16) >= 0 and n == n.lower() for n in names)
    short = [unique_hex(12) for _ in range(1_000)]
    assert len(set(short)) == len(short) and {len(n) for n in short} == {12}


def test_a_forked_child_draws_again() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: says its next name, and ends without running the parent's cleanup
        os.write(write, unique_hex().encode())
        os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    child = os.read(read, 64).decode()
    os.close(read)
    assert os.WEXITSTATUS(status) == 0
    mine = unique_hex()
    # the same counter from the same start would make names one apart
    assert len(child) == 32 and abs(int(child, 16) - int(mine, 16)) > 1_000_000
