"""The store's facade: typed reads and writes of every pylo object under one fsspec URL (the
layout is drawn in ``pylo.store``). Claims, execution listing, inputs and URLs have their own
modules; this class only routes to them."""

from __future__ import annotations

import json
import logging
import pickle
from collections.abc import Sequence
from typing import Any

from .._clock import SystemClock, WallClock
from ..errors import CorruptSnapshot, ExecutionNotFound, InvalidArgument, PyloError
from . import _listing
from ._claiming import Claims
from ._claims import Claim, Holder
from ._exception_records import decode_records, encode_records
from ._fs import DEFAULT_RETRY_SECONDS, Files
from ._inputs import InputsReader
from ._layout import FORMAT_VERSION, MAX_JSON_BYTES, MAX_RECORDS_BYTES, MAX_SMALL_BYTES, Layout
from ._leases import Lease, alive, known_ended
from ._manifest import BlockInfo, Manifest
from ._results import decode_results, encode_results
from ._segments import BlockState, Segment, _load_json, check_version, decode_segment, encode_segment, merge
from ._url import as_url, checked_options

__all__ = ["Store"]

log = logging.getLogger(__name__)


class Store:
    """Typed reads and writes of pylo objects under one fsspec URL."""

    def __init__(
        self,
        url: Any,
        storage_options: dict[str, Any] | None = None,
        *,
        retry_for: float = DEFAULT_RETRY_SECONDS,
        clock: WallClock | None = None,
    ) -> None:
        """``retry_for``: seconds a failing store operation is retried (with backoff, each
        retry logged as a WARNING) before it raises ``StoreUnreachable``. ``clock``: the time
        leases are written and judged with, and claims wait on (tests advance their own)."""
        url = as_url(url)
        if isinstance(retry_for, bool) or not isinstance(retry_for, (int, float)) or not 0 <= retry_for <= 86_400:
            raise InvalidArgument(f"store_retry_seconds must be a number of seconds in [0, 86400], got {retry_for!r}")
        self.files = Files(url, checked_options(storage_options), retry_for=float(retry_for))
        self.layout = Layout(self.files.root)
        self.clock: WallClock = clock or SystemClock()
        self.claims = Claims(self, self.clock)
        if self.files.isfile(self.files.root):
            raise InvalidArgument(f"store {url!r} is a file, not a directory")

    def __reduce__(self) -> tuple[Any, ...]:
        # The clock stays behind: a Dask worker judges and writes leases on its own real clock.
        return (_store, (self.files.url, self.files.storage_options, self.files.retry_for))

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
            data = self.files.get(path, MAX_JSON_BYTES)
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

    def executions(self) -> list[str]:
        """Ids of the executions that have a manifest, oldest first, and a resumed execution
        always after its parent: ids sort by their creator's clock, and a host whose clock runs
        ahead would otherwise list a parent after its child. Reads every manifest; one that
        cannot be read sorts by its id."""
        return _listing.executions(self)

    def list_executions(self) -> list[str]:
        """Ids of the executions that have a manifest, sorted by id (by their creation time)."""
        return _listing.list_executions(self)

    def resolve(self, ref: str) -> str:
        """The id that ``ref`` names: an id, a unique prefix of one (as git takes a commit's),
        or the 8 characters that end one (what the progress bar shows). Raises
        ``ExecutionNotFound`` when none matches, ``InvalidArgument`` when several do or when
        ``ref`` cannot be part of an id."""
        return _listing.resolve(self, ref)

    # -- inputs --------------------------------------------------------------------------------

    def write_inputs(self, eid: str, block: int, data: bytes, *, keep_name: bool = True,
                     defer_sync: bool = False) -> None:
        """Store one block's inputs, serialized by ``dump_inputs``. ``keep_name=False``: the
        caller makes the blocks survive a power cut with ``keep_inputs``, once for all of them,
        before anything refers to them; ``defer_sync``: where one call can, that call also
        syncs this block's data (see ``Files.sync_written``)."""
        self.files.put(self.layout.inputs(eid, block), data, synced_later=not keep_name, defer_sync=defer_sync)

    def prepare(self, eid: str) -> None:
        """Create the directories of a new execution at once (local disk): their names are
        kept with one fsync, not one per directory as each one's first object arrives."""
        layout = self.layout
        self.files.make_dirs([layout.inputs_dir(eid), layout.progress_dir(eid), layout.taken_dir(eid),
                              layout.leases_dir(eid), layout.workers_dir(eid), layout.claims_dir(eid)])

    def keep_inputs(self, eid: str, *, deferred: bool = False) -> None:
        """Make ``eid``'s input blocks survive a power cut, data and names (see ``write_inputs``);
        ``deferred``: some were written with ``defer_sync``."""
        self.files.sync_written(self.layout.inputs_dir(eid), at_once=deferred)

    def read_inputs(self, eid: str, info: BlockInfo) -> tuple[Sequence[int] | None, list[Any]]:
        """(root positions or ``None`` when they equal the execution's, values) of one block."""
        return self.inputs_reader(eid).read(info)

    def inputs_reader(self, eid: str) -> InputsReader:
        """A reader of ``eid``'s blocks that reads a pack once for its consecutive blocks."""
        return InputsReader(self, eid)

    def read_inputs_object(self, eid: str, info: BlockInfo) -> tuple[str, bytes]:
        """(path, bytes) of the object holding ``info``'s inputs: the block's own, its pack or
        its shared object."""
        first = info.inputs_first
        path = self.layout.inputs(eid, info.block if first is None else first)
        try:
            return path, self.files.get(path)
        except FileNotFoundError:
            raise CorruptSnapshot(f"missing input block {path}", path) from None

    # -- progress and errors -------------------------------------------------------------------

    def write_segment(self, eid: str, seg: Segment, seq: int, writer: str) -> None:
        name = self.layout.segment_name(seq, writer)
        # A power cut may lose the newest segments (their inputs rerun), never tear one: the
        # directory fsync that would keep their names costs as much as the write, at every flush.
        self.files.put(f"{self.layout.progress_dir(eid, seg.block)}/{name}", encode_segment(seg), keep_name=False)

    def write_records(self, eid: str, block: int, records: list[dict[str, Any]], seq: int, writer: str) -> None:
        name = self.layout.segment_name(seq, writer)
        self.files.put(f"{self.layout.errors_dir(eid, block)}/{name}", encode_records(records), keep_name=False)

    def write_results(self, eid: str, block: int, positions: list[int], blobs: list[bytes], seq: int, writer: str) -> None:
        """The results of the inputs one flush finished, named like its progress segment."""
        name = self.layout.segment_name(seq, writer)
        self.files.put(f"{self.layout.results_dir(eid, block)}/{name}", encode_results(positions, blobs))

    def read_results(self, eid: str, info: BlockInfo) -> dict[int, bytes]:
        """Position -> pickled result, the union of the block's results objects (of its pack's,
        then only the block's own positions)."""
        kept = self.read_directory_results(eid, info)
        return {pos: blob for pos, blob in kept.items() if pos in info.positions} if info.pack is not None else kept

    def read_directory_results(self, eid: str, info: BlockInfo, paths: list[str] | None = None) -> dict[int, bytes]:
        """Position -> pickled result for every position of the directory ``info``'s results
        are in: the block's, or its whole pack's (a reader going block by block reads it once).
        ``paths``: the directory's objects when the caller listed them already."""
        if paths is None:
            paths = self.files.find(self.layout.results_dir(eid, info.inputs_object))
        out: dict[int, bytes] = {}
        for path, data in self.files.get_many(paths).items():
            for pos, blob in decode_results(data, path).items():
                if pos not in info.stored_span:
                    raise CorruptSnapshot(f"corrupt results object {path}: position {pos} out of block range", path)
                out.setdefault(pos, blob)  # a rerun block may have kept a value twice: either will do
        return out

    def read_block_state(self, eid: str, info: BlockInfo) -> BlockState:
        prefix = self.layout.progress_dir(eid, info.inputs_object)
        listed = self.files.find_sized(prefix)
        segments = self.files.get_many(listed, MAX_JSON_BYTES, listed)
        return _block_state(info, [decode_segment(d, p, info.stored_span) for p, d in segments.items()])

    def read_states(self, manifest: Manifest) -> dict[int, BlockState]:
        """The merged state of every block, from one listing and one batched read."""
        by_dir = self.read_segments(manifest)
        return {b.block: _block_state(b, by_dir[b.inputs_object]) for b in manifest.blocks}

    def read_segments(self, manifest: Manifest) -> dict[int, list[Segment]]:
        """Every progress segment, by the block whose directory holds it (a pack's first block)."""
        base = self.layout.progress_dir(manifest.id)
        listed = self.files.find_sized(base)
        by_dir: dict[int, list[Segment]] = {b.inputs_object: [] for b in manifest.blocks}
        for path in listed:  # names first: an unexpected object is refused before anything is read
            _block_of(path, base, by_dir)
        for path, data in self.files.get_many(listed, MAX_JSON_BYTES, listed).items():
            block = _block_of(path, base, by_dir)
            by_dir[block].append(decode_segment(data, path, manifest.blocks[block].stored_span))
        return by_dir

    def read_records(self, manifest: Manifest) -> list[dict[str, Any]]:
        """Every raw exception record of the execution, in no particular order."""
        base = self.layout.errors_dir(manifest.id)
        known: dict[int, list[Any]] = {b.inputs_object: [] for b in manifest.blocks}
        records: list[dict[str, Any]] = []
        listed = self.files.find_sized(base)
        for path in listed:
            _block_of(path, base, known)
        for path, data in self.files.get_many(listed, MAX_RECORDS_BYTES, listed).items():
            records.extend(decode_records(data, path))
        return records

    # -- workers -------------------------------------------------------------------------------

    def write_worker(self, eid: str, worker: int, outcome: dict[str, Any]) -> None:
        body = {"format": FORMAT_VERSION, **outcome}
        self.files.put(self.layout.worker(eid, worker), json.dumps(body, indent=1).encode())

    def read_workers(self, eid: str) -> dict[int, dict[str, Any]]:
        out: dict[int, dict[str, Any]] = {}
        listed = self.files.find_sized(self.layout.workers_dir(eid))
        for path, data in self.files.get_many(listed, MAX_SMALL_BYTES, listed).items():
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
        """One GET (a HEAD or a LIST would be a second request on some object stores)."""
        try:
            self.files.get(self.layout.cancel(eid))
        except FileNotFoundError:
            return False
        return True

    # -- the task, stored once per execution for the Dask workers ------------------------------

    def write_task(self, eid: str, data: bytes) -> None:
        self.files.put(self.layout.task(eid), data)

    def read_task(self, eid: str) -> Any:
        path = self.layout.task(eid)
        try:
            data = self.files.get(path)
        except FileNotFoundError:
            raise CorruptSnapshot(f"missing task object {path}", path) from None
        try:
            return pickle.loads(data)
        except Exception as exc:  # the task's own module may be missing there: say which object
            raise CorruptSnapshot(f"cannot load the task object {path}: {exc!r}", path) from exc

    # -- leases: who is still running ----------------------------------------------------------

    def write_lease(self, eid: str, name: str, writer: str, interval: float, *, ended: bool = False) -> None:
        lease = Lease.now(name, writer, interval, ended=ended, clock=self.clock.time())
        self.files.put(self.layout.lease(eid, name), lease.to_json(), volatile=True)

    def read_leases(self, eid: str) -> list[Lease]:
        """Every readable lease of ``eid`` (an unreadable one proves nothing and is left out)."""
        paths = self.files.find(self.layout.leases_dir(eid))
        leases = (Lease.from_json(data) for data in self.files.get_many(paths).values())
        return [lease for lease in leases if lease is not None]

    def live_leases(self, eid: str, now: float | None = None) -> list[Lease]:
        """The leases of ``eid`` that prove something of it still runs."""
        leases = [lease for lease in self.read_leases(eid) if not known_ended(eid, lease.name)]
        return alive(leases, self.clock.time() if now is None else now)

    def is_running(self, eid: str) -> bool:
        """Whether a worker of ``eid`` (or a client holding its claim) is alive, read from the store."""
        return bool(self.live_leases(eid))

    # -- claims (see _claims for the rules, _claiming for the I/O) ------------------------------

    def claim(self, eid: str, *, force: bool = False, wait: float = 120.0) -> Claim:
        """Take the claim on ``eid``: only one client runs or resumes an execution at a time.
        Raises ``ExecutionClaimed`` naming the holder, and saying how to attach, while its holder
        or any worker of the run it started is alive (their leases), however late the call comes.
        ``force``: ask that run to stop, wait (at most ``wait`` s on the store's clock) until its
        workers have flushed and ended, then take over."""
        return self.claims.claim(eid, force=force, wait=wait)

    def point(self, claim: Claim, runs: str) -> None:
        """Record on ``claim`` the execution its holder started: its workers keep the claim alive."""
        self.claims.point(claim, runs)

    def release(self, claim: Claim) -> None:
        """Give back a claim taken by ``claim``; idempotent. A forked child of the holder (a task
        that called ``os.fork``) never releases its parent's claim."""
        self.claims.release(claim)

    def abandon(self, claim: Claim) -> None:
        """Stop holding ``claim`` without writing to the store (it is unreachable): its lease is no
        longer renewed, so it expires and everyone, this process included, takes it over."""
        self.claims.abandon(claim)

    def claimed_run(self, eid: str) -> str | None:
        """The execution that the holder of ``eid``'s live claim started (a resume), if it said."""
        return self.claims.claimed_run(eid)

    def claim_holder(self, eid: str) -> Holder | None:
        """Who holds the claim on ``eid`` now, or ``None``."""
        return self.claims.holder(eid)


def _store(url: str, options: dict[str, Any], retry_for: float) -> Store:
    # A store arriving in another process was checked where it was made: checking the root
    # again would cost two requests on an object store for every Dask task that carries it.
    store = Store.__new__(Store)
    store.files = Files(url, options, retry_for=retry_for)
    store.layout = Layout(store.files.root)
    store.clock = SystemClock()
    store.claims = Claims(store, store.clock)
    return store


def _block_state(info: BlockInfo, segments: list[Segment]) -> BlockState:
    """The state of one block from the segments of its directory (its pack's: then only what
    they say of the block's own positions)."""
    if info.pack is None:
        return merge(segments)
    return merge(seg.restricted(info.positions) for seg in segments)


def _block_of(path: str, base: str, known: dict[int, Any]) -> int:
    rest = path[len(base) + 1 :].split("/")
    try:
        block = int(rest[0])
    except (ValueError, IndexError):
        raise CorruptSnapshot(f"unexpected object {path}", path) from None
    if block not in known or len(rest) != 2:
        raise CorruptSnapshot(f"unexpected object {path}: no such block", path)
    return block
