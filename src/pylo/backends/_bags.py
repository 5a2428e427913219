"""A Dask bag as the inputs of an execution (what it kept is read back as bags by ``_read_bags``).

    bag ─ partition i ─► computed on a Dask worker ─► inputs/{i} written there ─► its count
                                                                    │ (the only thing the client sees)
    client ◄── counts ──────────────────────────────────────────────┘ ─► execution.json

Partition ``i`` becomes block ``i``, so the execution's input order is the bag's. Nothing of the
bag crosses the client. A partition that fails to compute fails the whole planning: no manifest is
written, so no execution exists, and the blocks already written are removed.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._core.config import MAX_BLOCK_SIZE, Config
from .._core.plan import write_manifest_of
from ..errors import InputsFailed, InvalidArgument, TaskNotSerializable
from ..store import Manifest, Store, dump_inputs, new_execution_id

if TYPE_CHECKING:  # typing only: a run on threads never imports distributed
    from distributed import Client

__all__ = ["is_bag", "plan_bag"]

log = logging.getLogger(__name__)


def is_bag(inputs: object) -> bool:
    """Whether ``inputs`` is a ``dask.bag.Bag`` (without importing dask.bag when nobody did)."""
    bag_module = sys.modules.get("dask.bag")
    return bag_module is not None and isinstance(inputs, bag_module.Bag)


def plan_bag(
    store: Store, bag: Any, task: Callable[[Any], object], config: Config, workers: int, client: Client | None
) -> Manifest:
    """Write ``bag`` as the input blocks of a new execution, one block per partition, and return
    its manifest. With a ``client`` each partition is computed and written by a Dask worker;
    without one (threads) partitions are computed here, one at a time. Raises ``InputsFailed``
    when a partition raises and ``TaskNotSerializable`` for an element that cannot be stored."""
    eid = new_execution_id()
    parts = bag.to_delayed()
    try:
        counts = _on_cluster(client, store, eid, parts) if client is not None else _here(store, eid, parts)
        # One block per partition: the block size recorded is the largest partition's.
        config = config.replace(block_size=max([config.block_size, *counts]))
        return write_manifest_of(store, eid, counts, task, config, workers)
    except BaseException:
        store.discard(eid)
        raise


def _write_partition(values: Any, store: Store, eid: str, index: int) -> int:
    """Store one computed partition as block ``index``; return its count. Runs where the
    partition was computed."""
    values = list(values)
    if len(values) > MAX_BLOCK_SIZE:
        raise InvalidArgument(
            f"partition {index} of the bag has {len(values):,} elements, more than the {MAX_BLOCK_SIZE:,} a "
            "block holds (a block is held in memory): repartition the bag, e.g. bag.repartition(npartitions=...)"
        )
    try:
        data = dump_inputs(None, values, 0)
    except TaskNotSerializable as exc:
        raise TaskNotSerializable(f"partition {index} of the bag: {exc} (counted within the partition)") from exc
    store.write_inputs(eid, index, data)
    return len(values)


def _on_cluster(client: Client, store: Store, eid: str, parts: list[Any]) -> list[int]:
    from dask.delayed import delayed
    from distributed import as_completed

    writes = [delayed(_write_partition, pure=False)(part, store, eid, i) for i, part in enumerate(parts)]
    futures = client.compute(writes)
    index = {f.key: i for i, f in enumerate(futures)}
    counts: list[int] = [0] * len(futures)
    try:
        for future in as_completed(futures):
            exc = future.exception()
            if exc is not None:
                _fail(index[future.key], exc)
            counts[index[future.key]] = int(future.result())
    finally:
        client.cancel(futures)  # after a failure: the partitions not computed yet never start
    return counts


def _here(store: Store, eid: str, parts: list[Any]) -> list[int]:
    counts = []
    for i, part in enumerate(parts):
        try:
            values = part.compute()
        except Exception as exc:  # the user's partition raised
            _fail(i, exc)
        counts.append(_write_partition(values, store, eid, i))
    return counts


def _fail(index: int, exc: BaseException) -> None:
    if isinstance(exc, InvalidArgument):  # an element that cannot be stored, a partition too large
        raise exc
    raise InputsFailed(
        f"partition {index} of the bag failed to compute: {type(exc).__name__}: {exc}; no execution was created"
    ) from exc
