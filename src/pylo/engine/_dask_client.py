"""Dask jobs on a ``distributed`` cluster: the only engine module that imports ``distributed``.

Every Dask job runs wrapped so that its future *settles*: it returns an ``Outcome`` and never
raises. A downstream Dask job gated on upstream Dask jobs is submitted at once, with the upstream
settled futures as arguments:

    upstream:   client.submit(settled_call, call)                    ──► Outcome("done" | "failed")
    downstream: client.submit(settled_after, call, filters, up_1, …) ──► runs ``call`` if every
                upstream's status passes its filter, else Outcome("skipped", why)

so the scheduler starts the downstream job as soon as its upstreams end, with no round trip to
the client, and a failed upstream never fails its dependents by Dask's own rules.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from distributed import Client, Future, LocalCluster

from ..errors import InvalidArgument
from ._outcome import Outcome, outcome_of, portable_error

__all__ = ["cancel", "check_asynchronous_client", "check_client", "make_client", "settled_after", "settled_call", "submit"]

log = logging.getLogger(__name__)

# Engine statuses of an upstream outcome, as the status filters name them.
_STATUS = {"done": "done", "failed": "failed", "skipped": "cancelled"}


def check_client(client: Any) -> Client:
    """A ``distributed.Client`` (synchronous or asynchronous), or ``InvalidArgument``."""
    if isinstance(client, str):
        return Client(client)
    if not isinstance(client, Client):
        raise InvalidArgument(f"dask_client must be a distributed.Client or an address, got {client!r}")
    return client


def check_asynchronous_client(client: Any) -> Client:
    """An asynchronous ``distributed.Client``, or ``InvalidArgument`` (a ``ValueError``, what
    executor-engine's ``engine.dask_client = client`` raises for a synchronous one)."""
    if not isinstance(client, Client):
        raise InvalidArgument(f"dask_client must be an asynchronous distributed.Client, got {client!r}")
    if not client.asynchronous:
        raise InvalidArgument(
            "engine.dask_client must be set to an asynchronous client (Client(..., asynchronous=True)); "
            "pass a synchronous one to the constructor instead: Engine(dask_client=client)"
        )
    return client


def _on_client_loop(client: Client, coro: Any) -> Any:
    """Run an asynchronous client's coroutine on its own loop, from another thread."""
    loop: Any = client.loop
    return asyncio.run_coroutine_threadsafe(coro, loop.asyncio_loop).result()


class _Closed:
    """What the engine's own client's ``close()`` returns: already done, and awaitable."""

    def __await__(self) -> Iterator[None]:
        return iter(())


class _EngineClient(Client):
    """The engine's own client: synchronous, so that it works from any thread, whose ``close()``
    closes at once and may also be awaited. Code written for engines that hand out asynchronous
    clients ends with ``await engine.dask_client.close()`` inside ``asyncio.run``; plain
    ``client.close()`` keeps working, and no coroutine is left un-awaited."""

    def close(self, *args: Any, **kwargs: Any) -> _Closed:
        super().close(*args, **kwargs)  # type: ignore[no-untyped-call]  # distributed leaves it untyped
        return _Closed()


def make_client() -> tuple[Client, list[Any]]:
    """A client on a small local cluster, and what to close when done."""
    cluster = LocalCluster(
        n_workers=min(2, os.cpu_count() or 1), threads_per_worker=1, processes=True, dashboard_address=None
    )
    client = _EngineClient(cluster)  # type: ignore[no-untyped-call]  # distributed leaves it untyped
    return client, [client, cluster]


def settled_call(call: Callable[[], Any]) -> Outcome:
    """Run ``call`` on a worker; never raise."""
    outcome = outcome_of(call)
    return Outcome("failed", portable_error(outcome.value)) if outcome.status == "failed" else outcome


def settled_after(call: Callable[..., Any], filters: Sequence[frozenset[str]], *upstreams: Outcome) -> Outcome:
    """Run ``call(*upstream values)`` if each upstream's status is in its filter, else skip."""
    for i, (up, wanted) in enumerate(zip(upstreams, filters)):
        status = _STATUS.get(up.status, "cancelled")
        if status not in wanted:
            return Outcome("skipped", f"upstream {i} ended {status}, not {'|'.join(sorted(wanted))}")
    values = [up.value for up in upstreams]
    return settled_call(lambda: call(*values))


def submit(client: Client, fn: Callable[..., Any], *args: Any, key: str, on_done: Callable[[Outcome], None]) -> Future[Any]:
    """Submit ``fn(*args)`` under ``key``; ``on_done(outcome)`` once its future ends. A future that
    ends without an outcome (cancelled, lost workers) reports ``Outcome("lost", error)``."""
    future = client.submit(fn, *args, key=key, pure=False)
    future.add_done_callback(lambda f: on_done(_outcome_of_future(f)))
    return future


def _outcome_of_future(future: Future[Any]) -> Outcome:
    """The ``Outcome`` an ended Dask future of the engine holds (it ran ``settled_call`` or
    ``settled_after``, which never raise), or ``Outcome("lost", why)`` when it holds none."""
    if future.status == "finished":
        try:
            client = future.client
            value = _on_client_loop(client, future._result()) if client.asynchronous else future.result()
        except Exception as exc:  # noqa: BLE001 - user code
            # fetching the result unpickles the user's value (its own code may raise anything),
            # from a cluster that may be gone
            return Outcome("lost", exc)
        if isinstance(value, Outcome):
            return value
        return Outcome("lost", RuntimeError(f"unexpected Dask result {value!r}"))
    if future.status == "cancelled":
        return Outcome("lost", None)
    try:
        error = future.exception()
    except Exception as exc:  # noqa: BLE001 - user code, as above: the user's exception is unpickled
        error = exc
    return Outcome("lost", error)


def cancel(future: Future[Any]) -> None:
    """Cancel ``future`` without blocking the caller (the client call runs on its own thread)."""
    def run() -> None:
        if future.client.asynchronous:
            _on_client_loop(future.client, future.cancel())
        else:
            future.cancel()

    threading.Thread(target=run, name="pylo-engine-dask-cancel", daemon=True).start()


def dependencies(client: Client, key: str) -> list[str]:
    """The keys the scheduler holds as dependencies of ``key`` (what a test checks)."""

    def deps(dask_scheduler: Any) -> list[str]:
        task = dask_scheduler.tasks.get(key)
        return [] if task is None else sorted(str(d.key) for d in task.dependencies)

    return list(client.run_on_scheduler(deps))
