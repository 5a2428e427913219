"""Generator jobs: a job whose function is a generator (or async generator) function runs as
long as its generator does. Its result, from the moment it starts, is a wrapper the user
iterates (``next``/``send``, ``async for``/``asend``); each step runs where the job's kind runs:

    LocalJob   the generator lives in the caller: each step runs in the thread that asks for it
    ThreadJob  a thread of its own (DaskJob too): each step is a call to that thread
    ProcessJob a process of its own: each step is a call to that process

When the generator is exhausted the job is done (its result stays the wrapper); when a step
raises, the job failed with that exception. Steps come back as tagged tuples, never as a raised
``StopIteration``, which futures cannot carry.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
from collections.abc import Callable
from typing import Any

import cloudpickle

from ._outcome import Outcome

__all__ = ["AsyncJobGenerator", "JobGenerator", "Stepper", "local_stepper", "process_stepper", "thread_stepper"]

Step = tuple[str, Any]  # ("yield", value) | ("stop", None) | ("error", exception)


def _advance(gen: Any, value: Any, loop: asyncio.AbstractEventLoop | None) -> Step:
    try:
        if hasattr(gen, "asend"):
            assert loop is not None
            return "yield", loop.run_until_complete(gen.asend(value))
        return "yield", gen.send(value)
    except (StopIteration, StopAsyncIteration):
        return "stop", None
    except BaseException as exc:  # noqa: BLE001 - the user's generator: its failure is data
        return "error", exc


class Stepper:
    """Where a generator job's generator lives; ``step(value)`` advances it there."""

    def __init__(self, call: Callable[[], Any]) -> None:
        self.gen: Any = None
        self._call = call

    def _made(self) -> Any:
        if self.gen is None:
            self.gen = self._call()
        return self.gen

    def step_sync(self, value: Any) -> Step:
        gen = self._made()
        if hasattr(gen, "asend"):
            raise TypeError("an async generator job is iterated with `async for` / `asend`")
        return _advance(gen, value, None)

    async def step_async(self, value: Any) -> Step:
        gen = self._made()
        try:
            return "yield", await gen.asend(value)
        except StopAsyncIteration:
            return "stop", None
        except BaseException as exc:  # noqa: BLE001 - the user's generator: its failure is data
            return "error", exc

    def close(self) -> None:
        """Stop the generator (best effort, never blocks)."""


def local_stepper(call: Callable[[], Any]) -> Stepper:
    return Stepper(call)


class _OwnThread(Stepper):
    def __init__(self, call: Callable[[], Any]) -> None:
        super().__init__(call)
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="pylo-engine-generator")
        self._loop: asyncio.AbstractEventLoop | None = None

    def _there(self, value: Any) -> Step:
        gen = self._made()
        if hasattr(gen, "asend") and self._loop is None:
            self._loop = asyncio.new_event_loop()
        return _advance(gen, value, self._loop)

    def step_sync(self, value: Any) -> Step:
        return self._pool.submit(self._there, value).result()

    async def step_async(self, value: Any) -> Step:
        return await asyncio.wrap_future(self._pool.submit(self._there, value))

    def close(self) -> None:
        self._pool.submit(self._end)
        self._pool.shutdown(wait=False)

    def _end(self) -> None:
        if self._loop is not None:
            self._loop.close()


def thread_stepper(call: Callable[[], Any]) -> Stepper:
    return _OwnThread(call)


# -- in the generator's own process ------------------------------------------------------------

_here: dict[str, Any] = {}


def _start_here(blob: bytes) -> None:
    _here["gen"] = cloudpickle.loads(blob)()
    _here["loop"] = asyncio.new_event_loop() if hasattr(_here["gen"], "asend") else None


def _step_here(value: Any) -> bytes:
    step = _advance(_here["gen"], value, _here["loop"])
    try:
        return bytes(cloudpickle.dumps(step))
    except Exception as exc:  # noqa: BLE001 - a value that cannot travel fails the job
        return bytes(cloudpickle.dumps(("error", TypeError(f"a value of the generator cannot be sent back: {exc}"))))


class _OwnProcess(Stepper):
    def __init__(self, call: Callable[[], Any]) -> None:
        super().__init__(call)
        self._pool = concurrent.futures.ProcessPoolExecutor(
            1, mp_context=multiprocessing.get_context("spawn"), initializer=_start_here,
            initargs=(bytes(cloudpickle.dumps(call)),),
        )

    def step_sync(self, value: Any) -> Step:
        return self._unpack(self._pool.submit(_step_here, value))

    async def step_async(self, value: Any) -> Step:
        future = self._pool.submit(_step_here, value)
        await asyncio.wait([asyncio.wrap_future(future)])
        return self._unpack(future)

    @staticmethod
    def _unpack(future: concurrent.futures.Future[bytes]) -> Step:
        try:
            step: Step = cloudpickle.loads(future.result())
        except Exception as exc:  # noqa: BLE001 - the process died or the call could not travel
            return "error", exc
        return step

    def close(self) -> None:
        processes = list(getattr(self._pool, "_processes", {}).values())
        self._pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:  # a generator stuck in a step would keep its process forever
            process.kill()


def process_stepper(call: Callable[[], Any]) -> Stepper:
    return _OwnProcess(call)


# -- what the user iterates ----------------------------------------------------------------------


class _Wrapper:
    def __init__(self, stepper: Stepper, finish: Callable[[Outcome], None]) -> None:
        self._stepper = stepper
        self._finish = finish
        self._ended = False

    def _settle(self, step: Step) -> Any:
        tag, value = step
        if tag == "yield":
            return value
        if not self._ended:
            self._ended = True
            self._stepper.close()
            self._finish(Outcome("done", self) if tag == "stop" else Outcome("failed", value))
        if tag == "error":
            raise value
        return _END


_END = object()


class JobGenerator(_Wrapper):
    """The result of a generator job: iterate it, or ``send`` to it."""

    def __iter__(self) -> JobGenerator:
        return self

    def __next__(self) -> Any:
        return self.send(None)

    def send(self, value: Any) -> Any:
        if self._ended:
            raise StopIteration
        out = self._settle(self._stepper.step_sync(value))
        if out is _END:
            raise StopIteration
        return out


class AsyncJobGenerator(_Wrapper):
    """The result of an async generator job: ``async for`` over it, or ``asend`` to it."""

    def __aiter__(self) -> AsyncJobGenerator:
        return self

    async def __anext__(self) -> Any:
        return await self.asend(None)

    async def asend(self, value: Any) -> Any:
        if self._ended:
            raise StopAsyncIteration
        out = self._settle(await self._stepper.step_async(value))
        if out is _END:
            raise StopAsyncIteration
        return out
