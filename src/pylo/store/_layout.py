"""Names in the store: execution ids and the path of every object (DESIGN §5)."""

from __future__ import annotations

import datetime as _dt
import re
import secrets

from ..errors import InvalidArgument

__all__ = ["FORMAT_VERSION", "Layout", "new_execution_id", "validate_execution_id"]

FORMAT_VERSION = 1

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

    def inputs(self, eid: str, block: int) -> str:
        return f"{self.execution(eid)}/inputs/{block:06d}"

    def progress_dir(self, eid: str, block: int | None = None) -> str:
        base = f"{self.execution(eid)}/progress"
        return base if block is None else f"{base}/{block:06d}"

    def errors_dir(self, eid: str, block: int | None = None) -> str:
        base = f"{self.execution(eid)}/errors"
        return base if block is None else f"{base}/{block:06d}"

    def segment_name(self, seq: int, writer: str) -> str:
        if not _WRITER.match(writer):
            raise InvalidArgument(f"bad writer id {writer!r}")
        return f"{seq:06d}-{writer}"

    def workers_dir(self, eid: str) -> str:
        return f"{self.execution(eid)}/workers"

    def worker(self, eid: str, worker: int) -> str:
        return f"{self.workers_dir(eid)}/{worker:04d}.json"

