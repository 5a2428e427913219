"""The store: an fsspec location holding every execution's manifest, inputs, progress and errors.

Layout (DESIGN §5; every object written once, never modified)::

    {root}/{execution}/execution.json               manifest (JSON)
    {root}/{execution}/inputs/{block}               (root positions | None, inputs) — cloudpickle
    {root}/{execution}/progress/{block}/{seq}-{w}   progress segment (JSON)
    {root}/{execution}/errors/{block}/{seq}-{w}     exception records (JSON, pickles base64)
    {root}/{execution}/workers/{worker}.json        a worker's final outcome (JSON)
    {root}/{execution}/cancel.json                  present once a cancel was requested

Reading inputs or exception objects unpickles them: the store must be trusted. Manifests,
progress and worker files are JSON and are read without unpickling anything.
"""

from __future__ import annotations

import json
import logging
import pickle
from collections.abc import Sequence
from typing import Any

import cloudpickle

from ..errors import (
    CorruptSnapshot,
    ExecutionClaimed,
    ExecutionNotFound,
    InvalidArgument,
    PyloError,
    TaskNotSerializable,
)
from ._claims import Claim, Holder, hold, latest, let_go, new_holder
from ._fs import Files
from ._layout import FORMAT_VERSION, Layout, new_execution_id, validate_execution_id
from ._manifest import BlockInfo, Manifest
from ._exception_records import ExceptionRecord, record_failure, decode_records, encode_records, to_record
from ._segments import BlockState, Segment, _load_json, check_version, decode_segment, encode_segment, merge

__all__ = [
    "BlockInfo",
    "BlockState",
    "Claim",
    "ExceptionRecord",
    "Manifest",
    "Segment",
    "Store",
    "record_failure",
    "dump_inputs",
    "new_execution_id",
    "to_record",
    "validate_execution_id",
]

log = logging.getLogger(__name__)


class Store:
    """Typed reads and writes of pylo objects under one fsspec URL."""

    def __init__(self, url: Any, storage_options: dict[str, Any] | None = None) -> None:
        url = _as_url(url)
        self.files = Files(url, storage_options)
        self.layout = Layout(self.files.root)
        if self.files.isfile(self.files.root):
            raise InvalidArgument(f"store {url!r} is a file, not a directory")

    def __reduce__(self) -> tuple[Any, ...]:
        return (Store, (self.files.url, self.files.storage_options))

    @property
    def url(self) -> str:
        return self.files.url

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    # -- manifest ------------------------------------------------------------------------------

    def write_manifest(self, manifest: Manifest) -> None:
        path = self.layout.manifest(manifest.id)
        if not self.files.put_new(path, manifest.encode()):
            raise InvalidArgument(f"execution {manifest.id} already exists in {self.url}")

    def read_manifest(self, eid: str) -> Manifest:
        path = self.layout.manifest(eid)
        try:
            data = self.files.get(path)
        except FileNotFoundError:
            raise ExecutionNotFound(f"no execution {eid} in store {self.url}") from None
        return Manifest.decode(data, path)

    def discard(self, eid: str) -> None:
        """Remove what a failed planning of ``eid`` wrote, unless it has a manifest (then it is an
        execution, and not ours to remove). A store error here is logged: leftovers without a
        manifest are invisible to every reader."""
        try:
            if not self.files.exists(self.layout.manifest(eid)):
                self.files.rm(self.layout.execution(eid))
        except PyloError:
            log.warning("could not remove the partial execution %s from %s", eid, self.url)

    def list_executions(self) -> list[str]:
        """Ids of the executions that have a manifest, oldest first."""
        ids = []
        for name in self.files.listdir(self.layout.root):
            try:
                validate_execution_id(name)
            except InvalidArgument:
                continue
            ids.append(name)
        return [i for i in ids if self.files.exists(self.layout.manifest(i))]

    # -- inputs --------------------------------------------------------------------------------

    def write_inputs(self, eid: str, block: int, data: bytes) -> None:
        """Store one block's inputs, serialized by ``dump_inputs``."""
        self.files.put(self.layout.inputs(eid, block), data)

    def read_inputs(self, eid: str, info: BlockInfo) -> tuple[Sequence[int] | None, list[Any]]:
        """(root positions or ``None`` when they equal the execution's, values) of one block."""
        path = self.layout.inputs(eid, info.block)
        try:
            data = self.files.get(path)
        except FileNotFoundError:
            raise CorruptSnapshot(f"missing input block {path}", path) from None
        try:
            positions, values = pickle.loads(data)
        except Exception as exc:  # any unpickling failure means a damaged object
            raise CorruptSnapshot(f"corrupt input block {path}: {exc!r}", path) from exc
        if not isinstance(values, list) or len(values) != info.count:
            raise CorruptSnapshot(f"corrupt input block {path}: expected {info.count} inputs", path)
        return positions, values

    # -- progress and errors -------------------------------------------------------------------

    def write_segment(self, eid: str, seg: Segment, seq: int, writer: str) -> None:
        name = self.layout.segment_name(seq, writer)
        self.files.put(f"{self.layout.progress_dir(eid, seg.block)}/{name}", encode_segment(seg))

    def write_records(self, eid: str, block: int, records: list[dict[str, Any]], seq: int, writer: str) -> None:
        name = self.layout.segment_name(seq, writer)
        self.files.put(f"{self.layout.errors_dir(eid, block)}/{name}", encode_records(records))

    def read_block_state(self, eid: str, info: BlockInfo) -> BlockState:
        prefix = self.layout.progress_dir(eid, info.block)
        paths = self.files.find(prefix)
        return merge(decode_segment(d, p, info.positions) for p, d in self.files.get_many(paths).items())

    def read_states(self, manifest: Manifest) -> dict[int, BlockState]:
        """The merged state of every block, from one listing and one batched read."""
        paths = self.files.find(self.layout.progress_dir(manifest.id))
        by_block: dict[int, list[Segment]] = {b.block: [] for b in manifest.blocks}
        for path, data in self.files.get_many(paths).items():
            block = _block_of(path, self.layout.progress_dir(manifest.id), by_block)
            by_block[block].append(decode_segment(data, path, manifest.blocks[block].positions))
        return {b: merge(segs) for b, segs in by_block.items()}

    def read_records(self, manifest: Manifest) -> list[dict[str, Any]]:
        """Every raw exception record of the execution, in no particular order."""
        base = self.layout.errors_dir(manifest.id)
        known: dict[int, list[Any]] = {b.block: [] for b in manifest.blocks}
        records: list[dict[str, Any]] = []
        for path, data in self.files.get_many(self.files.find(base)).items():
            _block_of(path, base, known)
            records.extend(decode_records(data, path))
        return records

    # -- workers -------------------------------------------------------------------------------

    def write_worker(self, eid: str, worker: int, outcome: dict[str, Any]) -> None:
        body = {"format": FORMAT_VERSION, **outcome}
        self.files.put(self.layout.worker(eid, worker), json.dumps(body, indent=1).encode())

    def read_workers(self, eid: str) -> dict[int, dict[str, Any]]:
        out: dict[int, dict[str, Any]] = {}
        paths = self.files.find(self.layout.workers_dir(eid))
        for path, data in self.files.get_many(paths).items():
            obj = _load_json(data, path)
            check_version(obj, path)
            try:
                out[int(path.rsplit("/", 1)[-1].split(".")[0])] = obj
            except ValueError:
                raise CorruptSnapshot(f"unexpected object {path}", path) from None
        return out

    # -- cancel requests -----------------------------------------------------------------------

    def request_cancel(self, eid: str) -> None:
        """Ask every block of ``eid``, wherever it runs, to stop between inputs."""
        self.files.put(self.layout.cancel(eid), b"{}")

    def cancel_requested(self, eid: str) -> bool:
        return self.files.exists(self.layout.cancel(eid))

    # -- claims --------------------------------------------------------------------------------

    def claim(self, eid: str, *, force: bool = False) -> Claim:
        """Take the claim on ``eid`` (see ``_claims``): only one client runs or resumes an execution
        at a time. Raises ``ExecutionClaimed`` naming the holder when someone else holds it, unless
        that holder is a dead process on this host, or ``force`` is true."""
        mine = new_holder()
        for _ in range(3):  # lost a race only when someone else took the claim: then re-examine
            gen, released = latest(self.files.listdir(self.layout.claims_dir(eid)))
            if gen and not released:
                self._break_or_refuse(eid, gen, force)
            hold(mine)  # before the write: from then on this process may hold it
            try:
                won = self._take(self.layout.claim(eid, gen + 1), mine)
            except BaseException:
                let_go(mine)
                raise
            if won:
                return Claim(eid, gen + 1, mine)
            let_go(mine)
            force = False  # a fresh claim by someone else is never broken by force
        raise ExecutionClaimed(f"execution {eid}: could not take its claim (contended)")

    def _take(self, path: str, mine: Holder) -> bool:
        if self.files.put_new(path, mine.to_json()):
            return True
        theirs = Holder.from_json(self.files.get(path))
        return theirs is not None and theirs.token == mine.token  # our PUT landed, its reply did not

    def _break_or_refuse(self, eid: str, gen: int, force: bool) -> None:
        path = self.layout.claim(eid, gen)
        holder = Holder.from_json(self.files.get(path))
        if holder is None:
            log.warning("claim %s is unreadable: taken over", path)
        elif holder.is_stale():
            log.warning("claim %s held by %s, which has ended: taken over", path, holder.describe())
        elif force:
            log.warning("claim %s held by %s: taken over (force=True)", path, holder.describe())
        else:
            raise ExecutionClaimed(
                f"execution {eid} is claimed by {holder.describe()} ({path}): it is running or being "
                "resumed there. If that client is dead, resume with force=True."
            )

    def release(self, claim: Claim) -> None:
        """Give back a claim taken by ``claim``; idempotent. Should writing the marker fail, this
        process already counts the claim as stale, so its next resume takes it over."""
        let_go(claim.holder)
        body = json.dumps({"format": FORMAT_VERSION, "token": claim.holder.token}).encode()
        self.files.put(self.layout.claim(claim.execution, claim.generation, released=True), body)

    def abandon(self, claim: Claim) -> None:
        """Stop holding ``claim`` without writing to the store (it is unreachable): this process
        takes it over as stale; other processes need ``force=True``."""
        let_go(claim.holder)

    def claim_holder(self, eid: str) -> Holder | None:
        """Who holds the claim on ``eid`` now, or ``None``."""
        gen, released = latest(self.files.listdir(self.layout.claims_dir(eid)))
        if not gen or released:
            return None
        return Holder.from_json(self.files.get(self.layout.claim(eid, gen)))


def dump_inputs(positions: Sequence[int] | None, values: list[Any], first: int) -> bytes:
    """Serialize a block and check that it loads back: an input that pickles but cannot be
    unpickled would otherwise make the whole execution unreadable. On failure, name the position
    of the input at fault (``TaskNotSerializable``)."""
    try:
        data: bytes = cloudpickle.dumps((positions, values), protocol=pickle.HIGHEST_PROTOCOL)
        pickle.loads(data)
    except Exception as exc:  # the user's objects failed: find the culprit, report its position
        for i, value in enumerate(values):
            try:
                pickle.loads(cloudpickle.dumps(value))
            except Exception as inner:
                raise TaskNotSerializable(
                    f"input at position {first + i} cannot be serialized and loaded back: {inner!r}"
                ) from inner
        raise TaskNotSerializable(f"inputs cannot be serialized: {exc!r}") from exc
    return data


def _block_of(path: str, base: str, known: dict[int, Any]) -> int:
    rest = path[len(base) + 1 :].split("/")
    try:
        block = int(rest[0])
    except (ValueError, IndexError):
        raise CorruptSnapshot(f"unexpected object {path}", path) from None
    if block not in known or len(rest) != 2:
        raise CorruptSnapshot(f"unexpected object {path}: no such block", path)
    return block


def _as_url(url: object) -> str:
    import os

    if isinstance(url, os.PathLike):
        url = os.fspath(url)
    if not isinstance(url, str) or not url:
        raise InvalidArgument(f"store must be a path or an fsspec URL, got {url!r}")
    if "://" not in url and "::" not in url:
        # A plain path, made absolute here: Dask workers resolve it against their own cwd.
        url = os.path.abspath(os.path.expanduser(url))
    return url
