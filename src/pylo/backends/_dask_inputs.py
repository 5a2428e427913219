"""Dask objects handed as inputs: resolved on the cluster, or refused before any work.

Iterating a Dask DataFrame yields its column names and a list of futures yields the future
objects: run over as inputs, both "finish" without the task ever seeing a value. So:

    dask Series ─────────────────► its bag (s.to_bag()): partitions written by the workers
    list with Dask futures ──────► a bag of block-sized partitions, each resolved on a worker
    one Dask future ─────────────► a bag of one partition: its value, resolved on a worker
    dask DataFrame / Array / ... ─► InvalidArgument naming what to pass (a row's form is the user's choice)
    a future met in a stream ────► InvalidArgument (a stream is read once: it cannot be resolved)

Without a Dask client (threads) every Dask future is refused: its value lives on a cluster.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Sized
from typing import TYPE_CHECKING, Any

from ..errors import InvalidArgument

if TYPE_CHECKING:  # typing only: a run on threads never imports distributed
    from distributed import Client

__all__ = ["dask_inputs", "refuse_futures"]

_NO_CLUSTER = (
    "Dask futures as inputs need Pylo.dask(client, ...), where their values live; "
    "on threads pass their values (client.gather(futures))"
)


def dask_inputs(inputs: Any, client: Client | None, block_size: int) -> Any | None:
    """A ``dask.bag.Bag`` of the values of Dask ``inputs`` (a Series, futures), ``None`` when
    ``inputs`` holds nothing of Dask. Raises ``InvalidArgument`` for what cannot be run over."""
    future = _future_type()
    if future is not None and isinstance(inputs, future):
        return _bag_of_one(inputs, client)
    if future is not None and isinstance(inputs, (list, tuple)) and any(isinstance(x, future) for x in inputs):
        return _bag_of_list(inputs, client, block_size)
    return _collection(inputs)


def refuse_futures(inputs: Iterable[Any]) -> Iterable[Any]:
    """``inputs``, refusing a Dask future met while a stream is read (when distributed is in
    use). A sized collection is passed as it is: its length lets the planner spread it at once,
    and a list or tuple of futures was resolved by ``dask_inputs`` already."""
    future = _future_type()
    if future is None or isinstance(inputs, Sized) or not isinstance(inputs, Iterable):
        return inputs  # (what is not iterable the planner refuses, saying so)
    return _checked(inputs, future)


def _checked(inputs: Iterable[Any], future: type) -> Iterator[Any]:
    for position, value in enumerate(inputs):
        if isinstance(value, future):
            raise InvalidArgument(
                f"input {position} is a Dask future: the task would get the future, not its value; pass a "
                "list of futures (resolved on the cluster), or their values"
            )
        yield value


def _future_type() -> type | None:
    """``distributed.Future`` when distributed is imported (nobody holds a future otherwise)."""
    module = sys.modules.get("distributed")
    return getattr(module, "Future", None) if module is not None else None


def _bag_of_one(future: Any, client: Client | None) -> Any:
    if client is None:
        raise InvalidArgument(f"a Dask future as inputs: {_NO_CLUSTER}")
    import dask.bag as db
    from dask.delayed import delayed

    return db.from_delayed([delayed(_values_of, pure=False)(future)])


def _bag_of_list(inputs: list[Any] | tuple[Any, ...], client: Client | None, block_size: int) -> Any:
    if client is None:
        raise InvalidArgument(f"a list of Dask futures as inputs: {_NO_CLUSTER}")
    import dask.bag as db
    from dask.delayed import delayed

    chunks = [inputs[i:i + block_size] for i in range(0, len(inputs), block_size)]
    # Each chunk's futures are arguments of one task: Dask hands it their values, on a worker.
    return db.from_delayed([delayed(_as_list, pure=False)(*chunk) for chunk in chunks])


def _as_list(*values: Any) -> list[Any]:
    return list(values)


def _values_of(value: Any) -> list[Any]:
    """The elements of a future's value, refusing one whose iteration is not its rows."""
    kind = type(value).__name__
    if kind == "DataFrame" or isinstance(value, (str, bytes, dict)):
        raise InvalidArgument(
            f"the Dask future's value is a {type(value).__module__}.{kind}, whose iteration is not a list of "
            "inputs; pass the collection itself (a dask.bag.Bag), or a list of the inputs"
        )
    try:
        return list(value)
    except TypeError:
        raise InvalidArgument(
            f"the Dask future's value, a {kind}, is not iterable; pass a list of futures, one per input"
        ) from None


def _collection(inputs: Any) -> Any | None:
    """The bag of a Dask Series; a refusal for the other Dask collections; ``None`` otherwise."""
    if "dask" not in sys.modules or not _is_collection(inputs):
        return None
    kind = type(inputs).__name__
    if kind == "Series" and hasattr(inputs, "to_bag"):
        return inputs.to_bag()
    if kind == "DataFrame" and hasattr(inputs, "to_bag"):
        raise InvalidArgument(
            "inputs is a Dask DataFrame, whose iteration yields its column names; pass its rows as a bag, "
            "read partition by partition on the workers: df.to_bag(index=False, format='dict') for one dict "
            "per row, or df.to_bag(index=False) for one tuple per row"
        )
    if kind == "Array":
        raise InvalidArgument(
            "inputs is a Dask Array; pass its elements as a bag, read chunk by chunk on the workers: "
            "arr.to_dask_dataframe().to_bag(index=False)"
        )
    raise InvalidArgument(
        f"inputs is a Dask {kind}, which pylo cannot split into inputs; pass a dask.bag.Bag "
        "(e.g. dask.bag.from_delayed([...]), one list of inputs per delayed) or a list"
    )


def _is_collection(inputs: Any) -> bool:
    from dask.base import is_dask_collection

    try:
        return is_dask_collection(inputs)
    except TypeError:  # an object whose __dask_graph__ refuses (a pylo Run): not inputs anyway
        return False
