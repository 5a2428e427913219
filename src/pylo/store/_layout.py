"""Names in the store: execution ids and the path of every object (see ``pylo.store``)."""

from __future__ import annotations

import datetime as _dt
import re
import secrets

from ..errors import InvalidArgument

__all__ = ["FORMAT_VERSION", "Layout", "MAX_JSON_BYTES", "MAX_RECORDS_BYTES", "MAX_SMALL_BYTES",
           "id_matcher", "new_execution_id", "validate_execution_id"]

FORMAT_VERSION = 1

# The largest JSON object of each kind a reader accepts, checked before reading: a damaged or
# hostile store must not make ``pylo status`` exhaust memory. Far above what pylo writes: a
# manifest of 10^9 inputs in blocks of 10,000 is ~2 MB, a segment of a 10^6-input block whose
# inputs alternate finished/failed ~20 MB, an exception record at most ~130 KB once capped.
MAX_JSON_BYTES = 64 * 2**20  # manifests, progress segments
MAX_RECORDS_BYTES = 256 * 2**20  # one flush of exception records
MAX_SMALL_BYTES = 2**20  # worker outcomes, claims, cancel markers

# 20261125T162126123456Z-1a2b3c4d: UTC creation time to the microsecond, then 32 random bits.
_ID = re.compile(r"\A\d{8}T\d{12}Z-[0-9a-f]{8}\Z")
_WRITER = re.compile(r"\A[0-9a-f]{12}\Z")
_LEASE = re.compile(r"\A[a-z]+-[0-9a-z]{1,32}\Z")


def new_execution_id(now: _dt.datetime | None = None) -> str:
    """A fresh id; ids sort by creation time."""
    now = now or _dt.datetime.now(_dt.timezone.utc)
    return f"{now:%Y%m%dT%H%M%S%f}Z-{secrets.token_hex(4)}"


def validate_execution_id(execution_id: object) -> str:
    """Return ``execution_id`` if it matches the strict pattern, else raise ``InvalidArgument``.

    Called before any path is built, so ``..``, ``/`` and the like never reach the store.
    """
    if not isinstance(execution_id, str) or not _ID.match(execution_id):
        raise InvalidArgument(
            f"not a pylo execution id: {execution_id!r} (expected e.g. 20261125T162126123456Z-1a2b3c4d)"
        )
    return execution_id


# What each character of an id may be, to tell a prefix of one from anything else.
_ID_CHARS = ["0123456789"] * 8 + ["T"] + ["0123456789"] * 12 + ["Z", "-"] + ["0123456789abcdef"] * 8
_RANDOM_PART = re.compile(r"\A[0-9a-f]{8}\Z")


def id_matcher(ref: object) -> str | None:
    """``None`` when ``ref`` is a whole id; else the test a listed id must pass to be the one
    ``ref`` names (``"prefix"`` or ``"random"``). Raises ``InvalidArgument`` for anything that is
    neither a prefix of an id nor the 8-character random part that ends one."""
    if isinstance(ref, str) and _ID.match(ref):
        return None
    if isinstance(ref, str) and _RANDOM_PART.match(ref):
        return "random"
    if isinstance(ref, str) and 0 < len(ref) < len(_ID_CHARS) and all(c in _ID_CHARS[i] for i, c in enumerate(ref)):
        return "prefix"
    validate_execution_id(ref)  # raises, with the usual message
    raise AssertionError("unreachable")  # pragma: no cover


class Layout:
    """The paths of one store root. Blocks and sequence numbers are zero-padded, so names sort."""

    def __init__(self, root: str) -> None:
        self.root = root.rstrip("/")

    def execution(self, eid: str) -> str:
        return f"{self.root}/{validate_execution_id(eid)}"

    def manifest(self, eid: str) -> str:
        return f"{self.execution(eid)}/execution.json"

    def cancel(self, eid: str) -> str:
        return f"{self.execution(eid)}/cancel.json"

    def stopped(self, eid: str) -> str:
        """Why the execution stopped before its end (its tolerance passed, its cluster lost)."""
        return f"{self.execution(eid)}/stopped.json"

    def leases_dir(self, eid: str) -> str:
        return f"{self.execution(eid)}/leases"

    def lease(self, eid: str, name: str) -> str:
        if not _LEASE.match(name):
            raise InvalidArgument(f"bad lease name {name!r}")
        return f"{self.leases_dir(eid)}/{name}.json"

    def task(self, eid: str) -> str:
        return f"{self.execution(eid)}/task"

    def claims_dir(self, eid: str) -> str:
        return f"{self.execution(eid)}/claims"

    def claim(self, eid: str, generation: int, released: bool = False) -> str:
        return f"{self.claims_dir(eid)}/{generation:06d}.{'released' if released else 'json'}"

    def claim_runs(self, eid: str, generation: int) -> str:
        """Names the execution a claim's holder started (a resume): its leases prove the claim alive."""
        return f"{self.claims_dir(eid)}/{generation:06d}.runs"

    def taken_dir(self, eid: str) -> str:
        return f"{self.execution(eid)}/taken"

    def taken(self, eid: str, unit: int, generation: int, released: bool = False) -> str:
        """Who took ``unit`` under ``generation`` (see ``_takes``), or that they handed it back."""
        return f"{self.taken_dir(eid)}/{unit:06d}-{generation:03d}.{'released' if released else 'json'}"

    def inputs_dir(self, eid: str) -> str:
        return f"{self.execution(eid)}/inputs"

    def inputs(self, eid: str, block: int) -> str:
        return f"{self.inputs_dir(eid)}/{block:06d}"

    def progress_dir(self, eid: str, block: int | None = None) -> str:
        base = f"{self.execution(eid)}/progress"
        return base if block is None else f"{base}/{block:06d}"

    def errors_dir(self, eid: str, block: int | None = None) -> str:
        base = f"{self.execution(eid)}/errors"
        return base if block is None else f"{base}/{block:06d}"

    def results_dir(self, eid: str, block: int | None = None) -> str:
        base = f"{self.execution(eid)}/results"
        return base if block is None else f"{base}/{block:06d}"

    def segment_name(self, seq: int, writer: str) -> str:
        if not _WRITER.match(writer):
            raise InvalidArgument(f"bad writer id {writer!r}")
        return f"{seq:06d}-{writer}"

    def workers_dir(self, eid: str) -> str:
        return f"{self.execution(eid)}/workers"

    def worker(self, eid: str, worker: int) -> str:
        return f"{self.workers_dir(eid)}/{worker:04d}.json"

    def running(self, eid: str, worker: int) -> str:
        """Which input ``worker`` is running, written before each input of a block rerun after
        its process died (see ``pylo._core.deaths``)."""
        return f"{self.execution(eid)}/running/{worker:04d}.json"

