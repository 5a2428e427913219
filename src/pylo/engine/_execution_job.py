"""An execution of pylo as a job: ``pylo.submit(inputs, task)`` (or ``pylo.resume``) under the
engine, so it can wait for other jobs and others can wait for it. Its result is the execution id."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from .._status import Status
from ..errors import ExecutionInterrupted, InvalidArgument
from ._job import Job, Runtime
from ._outcome import outcome_of

__all__ = ["ExecutionJob"]


class ExecutionJob(Job):
    """Runs ``task`` over ``inputs`` with ``pylo`` (a ``pylo.Pylo``), or, with ``resume=``, reruns
    what an execution left unfinished — ``resume`` is an execution id, or another
    ``ExecutionJob`` (or its future) whose execution this one resumes once it is done.
    A retry or a re-run resumes the execution of the attempt before it (its inputs, a generator
    included, are read only once; what it finished is not redone). Cancelling the job cancels
    the run (cooperatively: its workers flush and stop)."""

    kind = "execution"

    def __init__(
        self,
        pylo: Any,
        inputs: Iterable[Any] | None = None,
        task: Callable[[Any], object] | None = None,
        *,
        resume: Any = None,
        **options: Any,
    ) -> None:
        if task is None or not callable(task):
            raise InvalidArgument("ExecutionJob needs a callable task")
        if (inputs is None) == (resume is None):
            raise InvalidArgument("ExecutionJob takes either inputs or resume=, not both nor neither")
        self._run: Any = None
        self._lock = threading.Lock()
        self._cancelled = False
        self._attempt = threading.Lock()  # held by the attempt running, so the next one follows it
        self._last: str | None = None  # the execution id of the latest attempt
        options.setdefault("name", f"execution:{getattr(task, '__name__', 'task')}")
        super().__init__(self._execute, (pylo, inputs, task, resume), **options)

    def _execute(self, pylo: Any, inputs: Any, task: Callable[[Any], object], resume: str | None) -> str:
        with self._attempt:  # a cancelled attempt's run may still be flushing: wait for its end
            return self._attempt_once(pylo, inputs, task, resume)

    def _attempt_once(self, pylo: Any, inputs: Any, task: Callable[[Any], object], resume: str | None) -> str:
        if self._last is not None:
            run = pylo.resume(self._last, task)
        elif resume is None:
            run = pylo.submit(inputs, task)
        else:
            run = pylo.resume(resume, task)
        self._last = run.id
        with self._lock:
            self._run = run
            cancelled = self._cancelled
        if cancelled:
            run.cancel()
        eid = str(run.wait())
        if run.status is Status.CANCELLED and not cancelled:
            raise ExecutionInterrupted(f"execution {eid} was cancelled")
        return eid

    def _begin(self, rt: Runtime, call: Callable[[], Any], token: int) -> None:
        with self._lock:
            self._run, self._cancelled = None, False
        threading.Thread(
            target=lambda: rt.report(self, token, outcome_of(call)), name="pylo-engine-execution", daemon=True
        ).start()

    def _stop(self, rt: Runtime) -> None:
        with self._lock:
            self._cancelled = True
            run = self._run
        if run is not None:
            run.cancel()

    @property
    def run(self) -> Any:
        """The ``pylo.Run`` of the current attempt, once started."""
        return self._run
