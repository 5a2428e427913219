"""An execution of pylo as a job: ``pylo.submit(inputs, task)`` (or ``pylo.resume``) under the
engine, so it can wait for other jobs and others can wait for it. Its result is the execution id."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from .._core.status import Status
from .._numbers import count
from ..conditions import AfterAnother
from ..errors import ExecutionInterrupted, ExecutionUnfinished, InvalidArgument
from ._job import Job, JobFuture, Runtime
from ._outcome import outcome_of

__all__ = ["ExecutionJob"]


class _OneLine(logging.Filter):
    """An execution whose inputs failed fails its job as expected: the engine's failure log says
    so in one line (the message names the execution and how to read its exceptions), not with a
    traceback of the engine's own frames, which tells nothing about the inputs."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, ExecutionUnfinished):
            record.msg, record.exc_info, record.exc_text = f"{record.msg}: %s", None, None
            record.args = (*(record.args or ()), error)
        return True


logging.getLogger("pylo.engine").addFilter(_OneLine())  # the engine logs each failed job there


class ExecutionJob(Job):
    """Runs ``task`` over ``inputs`` with ``pylo`` (a ``pylo.Pylo``), or, with ``resume=``, reruns
    what an execution left unfinished — ``resume`` is an execution id, or another
    ``ExecutionJob`` (or its future) whose execution this one resumes once that job has ended,
    done or failed.

    The job is *done* when its execution finished every input. With ``fail_on_unfinished``
    (the default) an execution that ended with inputs failed or never run fails the job with
    ``ExecutionUnfinished`` (its ``execution_id`` names the execution), so "resume it only if it
    failed" is ``AfterAnother(job.id, statuses=["failed"])``; without it such a job is done too.
    Its result is the execution id either way (``job.execution_id`` has it once it started).
    A retry or a re-run resumes the execution of the attempt before it (its inputs, a generator
    included, are read only once; what it finished is not redone). Cancelling the job cancels
    the run (cooperatively: its workers flush and stop). ``max_failures`` / ``max_failure_rate``:
    the tolerance of each of its executions, in place of ``pylo``'s (see ``pylo.Config``); a run
    stopped past it fails the job with ``ExecutionUnfinished`` saying so."""

    kind = "execution"

    def __init__(
        self,
        pylo: Any,
        inputs: Iterable[Any] | None = None,
        task: Callable[[Any], object] | None = None,
        *,
        resume: Any = None,
        fail_on_unfinished: bool = True,
        max_failures: int | None = None,
        max_failure_rate: float | None = None,
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
        self.fail_on_unfinished = bool(fail_on_unfinished)
        if max_failures is not None or max_failure_rate is not None:
            pylo = pylo.with_options(max_failures=max_failures, max_failure_rate=max_failure_rate)
        self._after: ExecutionJob | None = None
        if isinstance(resume, JobFuture):
            resume = resume.job
        if isinstance(resume, Job):
            if not isinstance(resume, ExecutionJob):
                raise InvalidArgument(f"resume= takes an execution id or an ExecutionJob, got {resume!r}")
            self._after, resume = resume, None
            ended = AfterAnother(self._after.id, statuses=["done", "failed"])
            condition = options.get("condition")
            options["condition"] = ended if condition is None else condition & ended
        options.setdefault("name", f"execution:{getattr(task, '__name__', 'task')}")
        super().__init__(self._execute, (pylo, inputs, task, resume), **options)

    @property
    def execution_id(self) -> str | None:
        """The id of the execution of the latest attempt, once it started."""
        return self._last

    def _execute(self, pylo: Any, inputs: Any, task: Callable[[Any], object], resume: str | None) -> str:
        with self._attempt:  # a cancelled attempt's run may still be flushing: wait for its end
            return self._attempt_once(pylo, inputs, task, resume)

    def _attempt_once(self, pylo: Any, inputs: Any, task: Callable[[Any], object], resume: str | None) -> str:
        if self._after is not None and self._last is None:
            resume = self._after.execution_id
            if resume is None:
                raise InvalidArgument(f"job {self._after.name!r} ended before its execution started: nothing to resume")
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
        if run.status is Status.CANCELLED and not cancelled and run.reason is None:
            raise ExecutionInterrupted(f"execution {eid} was cancelled")
        left = run.progress()
        if self.fail_on_unfinished and left.failed + left.pending > 0:
            raise ExecutionUnfinished(
                f"execution {eid} ended with {count(left.failed)} failed and {count(left.pending)} pending inputs of "
                f"{count(left.total)}" + (f" ({run.reason})" if run.reason else "")
                + f"; its exceptions: pylo.get_exceptions({eid!r}), or pylo exceptions {pylo.store.url} {eid}", eid
            )
        return eid

    def _begin(self, rt: Runtime, call: Callable[[], Any], token: int) -> Any:
        with self._lock:
            self._run, self._cancelled = None, False
        threading.Thread(
            target=lambda: rt.report(self, token, outcome_of(call)), name="pylo-engine-execution", daemon=True
        ).start()
        return None  # the attempt is stopped through its pylo run, which it keeps itself

    def _stop(self, rt: Runtime, handle: Any) -> None:
        with self._lock:
            self._cancelled = True
            run = self._run
        if run is not None:
            run.cancel()

    @property
    def run(self) -> Any:
        """The ``pylo.Run`` of the current attempt, once started."""
        return self._run
