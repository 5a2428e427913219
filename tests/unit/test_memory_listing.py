"""A listing of fsspec's memory store that raced a write from another thread is done again."""

from __future__ import annotations

from typing import Any

import pytest

from pylo.store._fs import Files


def test_a_listing_of_the_memory_store_that_raced_a_write_is_done_again(tmp_path: Any) -> None:
    # fsspec's memory store lists by walking one dict that another thread may be writing to
    # (planning's uploads while a resume reads the parent's state): CI saw "dictionary changed
    # size during iteration". Only that failure, and only on the memory store, is retried.
    def racing(times: int) -> Any:
        calls = []

        def op() -> str:
            calls.append(1)
            if len(calls) <= times:
                raise RuntimeError("dictionary changed size during iteration")
            return "listed"

        return op

    memory = Files(f"memory://race-{tmp_path.name}")
    assert memory.retrying("list", racing(3)) == "listed"
    with pytest.raises(RuntimeError):
        memory.retrying("list", racing(10))  # bounded: a store that always fails still fails
    with pytest.raises(RuntimeError):
        Files(str(tmp_path)).retrying("list", racing(1))  # elsewhere it is a bug, not a race

    vanished = iter([KeyError("/store/x"), None])

    def deleted_meanwhile() -> str:  # a key the listing had just seen was deleted
        exc = next(vanished)
        if exc is not None:
            raise exc
        return "listed"

    assert memory.retrying("list", deleted_meanwhile) == "listed"

    def other() -> None:
        raise RuntimeError("something else")

    with pytest.raises(RuntimeError, match="something else"):
        memory.retrying("list", other)
