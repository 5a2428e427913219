"""Job records: what happened to each job, as JSON in the store, so a restarted engine can list
them and re-submit the jobs it can rebuild.

    {store}/jobs/{job_id}.json   {"format": 1, "id", "kind", "name", "status", "created",
                                  "submitted", "started", "stopped", "attempts", "condition",
                                  "error", "func", "spec"}

Times are epoch seconds. ``spec`` is the job's constructor arguments, pickled with the standard
``pickle`` (functions by reference: module and qualified name), base64: present only when they
pickle, i.e. when the function is importable. Like every pickle in the store it runs code when
loaded: the store must be trusted. Each write replaces the whole record atomically.

The engine writes a record at each status change through a ``RecordWriter``: on one background
thread, in order, so its loop never waits for the store.
"""

from __future__ import annotations

import base64
import concurrent.futures
import dataclasses
import json
import logging
import os
import pickle
import re
from typing import Any

from .._core.status import Status
from ..errors import CorruptSnapshot, IncompatibleSnapshot, PyloError
from ..store._fs import Files
from ._job import Job

__all__ = ["JobRecord", "RecordStore", "RecordWriter", "record_of", "spec_of"]

log = logging.getLogger(__name__)

FORMAT = 1
_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclasses.dataclass(frozen=True)
class JobRecord:
    """One job as persisted: readable without unpickling anything."""

    id: str
    kind: str
    name: str
    status: Status
    created: float
    submitted: float | None
    started: float | None
    stopped: float | None
    attempts: int
    condition: str | None
    error: str | None
    func: str | None

    def to_json(self, spec: bytes | None) -> bytes:
        data: dict[str, Any] = {"format": FORMAT, **dataclasses.asdict(self), "status": self.status.value}
        data["spec"] = None if spec is None else base64.b64encode(spec).decode("ascii")
        return json.dumps(data, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes, path: str) -> tuple[JobRecord, bytes | None]:
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise CorruptSnapshot(f"job record {path} is not JSON: {exc}", path) from exc
        if not isinstance(data, dict):
            raise CorruptSnapshot(f"job record {path} is not a JSON object", path)
        if data.get("format") != FORMAT:
            raise IncompatibleSnapshot(f"job record {path}: unknown format {data.get('format')!r}", path)
        try:
            spec = None if data.get("spec") is None else base64.b64decode(data["spec"])
            fields = {f.name: data[f.name] for f in dataclasses.fields(cls)}
            fields["status"] = Status(fields["status"])
            return cls(**fields), spec
        except (KeyError, ValueError, TypeError) as exc:
            raise CorruptSnapshot(f"job record {path} is incomplete: {exc}", path) from exc


def record_of(job: Job) -> JobRecord:
    error = job.cancel_reason if job.status is Status.CANCELLED else None
    if error is None and job.error is not None:
        error = f"{type(job.error).__name__}: {job.error}"
    return JobRecord(
        id=job.id, kind=job.kind, name=job.name, status=job.status, created=job.created,
        submitted=job.submitted, started=job.started, stopped=job.stopped, attempts=job.attempts,
        condition=None if job.condition is None else repr(job.condition), error=error,
        func=_qualified(job.func),
    )


def _qualified(func: Any) -> str | None:
    """``module:qualname`` of the user's function; ``None`` for one of pylo's own internals (a
    subprocess job's command runner…): a record names public things only, being a format."""
    module, qualname = getattr(func, "__module__", None), getattr(func, "__qualname__", None)
    if not module or not qualname:
        return None
    if module.split(".")[0] == "pylo" and any(part.startswith("_") for part in (*module.split("."), *qualname.split("."))):
        return None
    return f"{module}:{qualname}"


def spec_of(job: Job) -> bytes | None:
    """The pickled constructor arguments of ``job``, or ``None`` when it cannot be rebuilt."""
    try:
        return pickle.dumps((type(job), *job._spec()))
    except Exception as exc:  # noqa: BLE001 - user code
        # pickling runs the user's objects' own code (``__reduce__``…), which may raise anything;
        # lambdas, closures, open files: not resubmittable
        log.debug("job %s cannot be persisted for re-submission: %s", job.id, exc)
        return None


def rebuild(record: JobRecord, spec: bytes) -> Job:
    """The job of ``record``, with its id, from its spec (raises whatever unpickling raises)."""
    cls, args, kwargs = pickle.loads(spec)  # noqa: S301 - the store is trusted (see module doc)
    job: Job = cls(*args, **kwargs)
    job.id, job.created = record.id, record.created
    return job


class RecordStore:
    """The ``jobs/`` folder of a store."""

    def __init__(self, url: str | os.PathLike[str], storage_options: dict[str, Any] | None = None) -> None:
        self.files = Files(os.fspath(url), storage_options)
        self.prefix = f"{self.files.root}/jobs"

    def write(self, record: JobRecord, spec: bytes | None) -> None:
        self.files.put(self._path(record.id), record.to_json(spec))

    def read_all(self) -> list[tuple[JobRecord, bytes | None]]:
        """Every readable record, oldest first; a damaged one is logged and skipped."""
        out = []
        for name in self.files.listdir(self.prefix):
            if not name.endswith(".json") or not _ID.match(name[:-5]):
                continue
            path = self._path(name[:-5])
            try:
                out.append(JobRecord.from_json(self.files.get(path), path))
            except (CorruptSnapshot, IncompatibleSnapshot, FileNotFoundError) as exc:
                log.warning("skipping job record %s: %s", path, exc)
        return sorted(out, key=lambda pair: pair[0].created)

    def _path(self, job_id: str) -> str:
        if not _ID.match(job_id):
            raise ValueError(f"not a job id: {job_id!r}")
        return f"{self.prefix}/{job_id}.json"


class RecordWriter:
    """Writes records to a ``RecordStore`` on one background thread, in the order given. A write
    the store refuses is logged, never raised: a lost record must not stop the engine (anything
    else a write raises is a bug, logged as one). Once ``mute()``
    is called later writes are dropped: the jobs a stopping engine cancels keep their unfinished
    records, so an engine restarted on the same store takes them up again."""

    def __init__(self, records: RecordStore) -> None:
        self.records = records
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="pylo-engine-records")
        self._muted = False

    def write(self, record: JobRecord, spec: bytes | None) -> None:
        if not self._muted:
            self._pool.submit(self._write, record, spec).add_done_callback(_log_bug)

    def mute(self) -> None:
        self._muted = True

    def shutdown(self) -> None:
        """Wait for the writes given so far."""
        self._pool.shutdown()

    def _write(self, record: JobRecord, spec: bytes | None) -> None:
        try:
            self.records.write(record, spec)
        except (PyloError, OSError):  # what the store raises once its retries are spent (Files.put)
            log.exception("could not write the record of job %s", record.id)


def _log_bug(future: concurrent.futures.Future[None]) -> None:
    """A write that raised something else: the pool would keep it in a future nobody reads."""
    error = future.exception()
    if error is not None:
        log.error("writing a job record failed unexpectedly", exc_info=error)
