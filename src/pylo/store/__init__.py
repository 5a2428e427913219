"""The store: an fsspec location holding every execution's manifest, inputs, progress and errors.

Layout (a format other clusters, versions and the CLI read; every object written once, never
modified)::

    {root}/{execution}/execution.json               manifest (JSON)
    {root}/{execution}/inputs/{block}               (root positions | None, inputs) — cloudpickle;
                                                    or a pack of consecutive blocks (see _input_packs)
    {root}/{execution}/progress/{block}/{seq}-{w}   progress segment (JSON)
    {root}/{execution}/errors/{block}/{seq}-{w}     exception records (JSON, pickles base64)
    {root}/{execution}/results/{block}/{seq}-{w}    return values (store_results): JSON header, pickles
    {root}/{execution}/workers/{worker}.json        a worker's final outcome (JSON)
    {root}/{execution}/cancel.json                  present once a cancel was requested
    {root}/{execution}/task                         the task and its config, for Dask workers — cloudpickle
    {root}/{execution}/leases/{name}.json           heartbeats of what runs it (JSON, see _leases)
    {root}/{execution}/claims/…                     who runs or resumes it (JSON, see _claims)

Reading inputs or exception objects unpickles them: the store must be trusted. Manifests,
progress and worker files are JSON and are read without unpickling anything.
"""

from __future__ import annotations

import heapq
import json
import logging
import os
import pickle
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

import cloudpickle
import fsspec

from ..errors import (
    CorruptSnapshot,
    ExecutionClaimed,
    ExecutionNotFound,
    InvalidArgument,
    PyloError,
    TaskNotSerializable,
)
from ._claims import CLIENT_LEASE_INTERVAL, Claim, Holder, hold, latest, let_go, new_holder
from ._heartbeat import Heartbeat
from ._leases import EXPIRY_INTERVALS, Lease, alive
from ._fs import DEFAULT_RETRY_SECONDS, Files
from ._layout import (
    FORMAT_VERSION,
    MAX_JSON_BYTES,
    MAX_RECORDS_BYTES,
    MAX_SMALL_BYTES,
    Layout,
    id_matcher,
    new_execution_id,
    validate_execution_id,
)
from ._input_packs import decode_pack, encode_pack
from ._manifest import BlockInfo, Manifest
from ._exception_records import ExceptionRecord, record_failure, decode_records, encode_records, to_record
from ._results import decode_results, encode_results
from ._segments import BlockState, Positions, Segment, _load_json, check_version, decode_segment, encode_segment, merge

__all__ = [
    "BlockInfo",
    "BlockState",
    "Claim",
    "ExceptionRecord",
    "Heartbeat",
    "InputsReader",
    "Lease",
    "Manifest",
    "Positions",
    "Segment",
    "Store",
    "record_failure",
    "dump_inputs",
    "encode_pack",
    "new_execution_id",
    "order_by_parents",
    "to_record",
    "validate_execution_id",
]

log = logging.getLogger(__name__)


class Store:
    """Typed reads and writes of pylo objects under one fsspec URL."""

    def __init__(
        self, url: Any, storage_options: dict[str, Any] | None = None, *, retry_for: float = DEFAULT_RETRY_SECONDS
    ) -> None:
        """``retry_for``: seconds a failing store operation is retried (with backoff, each
        retry logged as a WARNING) before it raises ``StoreUnreachable``."""
        url = _as_url(url)
        if isinstance(retry_for, bool) or not isinstance(retry_for, (int, float)) or not 0 <= retry_for <= 86_400:
            raise InvalidArgument(f"store_retry_seconds must be a number of seconds in [0, 86400], got {retry_for!r}")
        self.files = Files(url, _checked_options(storage_options), retry_for=float(retry_for))
        self.layout = Layout(self.files.root)
        if self.files.isfile(self.files.root):
            raise InvalidArgument(f"store {url!r} is a file, not a directory")

    def __reduce__(self) -> tuple[Any, ...]:
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
        ids = self.list_executions()
        parents: dict[str, str | None] = {}
        for eid in ids:
            try:
                parents[eid] = self.read_manifest(eid).parent
            except PyloError:
                parents[eid] = None
        return order_by_parents(parents)

    def list_executions(self) -> list[str]:
        """Ids of the executions that have a manifest, sorted by id (by their creation time)."""
        ids = []
        for name in self.files.listdir(self.layout.root):
            try:
                validate_execution_id(name)
            except InvalidArgument:
                continue
            ids.append(name)
        return [i for i in ids if self.files.exists(self.layout.manifest(i))]

    def resolve(self, ref: str) -> str:
        """The id that ``ref`` names: an id, a unique prefix of one (as git takes a commit's),
        or the 8 characters that end one (what the progress bar shows). Raises
        ``ExecutionNotFound`` when none matches, ``InvalidArgument`` when several do or when
        ``ref`` cannot be part of an id."""
        how = id_matcher(ref)
        if how is None:
            return ref
        if how == "random":
            matches = [i for i in self.list_executions() if i.endswith("-" + ref) or i.startswith(ref)]
        else:
            matches = [i for i in self.list_executions() if i.startswith(ref)]
        if not matches:
            raise ExecutionNotFound(f"no execution {ref}… in store {self.url}")
        if len(matches) > 1:
            shown = ", ".join(matches[:5]) + (", …" if len(matches) > 5 else "")
            raise InvalidArgument(f"{ref!r} names {len(matches)} executions ({shown}): give more of the id")
        return matches[0]

    # -- inputs --------------------------------------------------------------------------------

    def write_inputs(self, eid: str, block: int, data: bytes, *, keep_name: bool = True) -> None:
        """Store one block's inputs, serialized by ``dump_inputs``. ``keep_name=False``: the
        caller makes the names survive a power cut with ``keep_inputs``, once for all blocks."""
        self.files.put(self.layout.inputs(eid, block), data, keep_name=keep_name)

    def keep_inputs(self, eid: str) -> None:
        """Make the names of ``eid``'s input blocks survive a power cut (see ``write_inputs``)."""
        self.files.keep_names(self.layout.inputs_dir(eid))

    def read_inputs(self, eid: str, info: BlockInfo) -> tuple[Sequence[int] | None, list[Any]]:
        """(root positions or ``None`` when they equal the execution's, values) of one block."""
        return self.inputs_reader(eid).read(info)

    def inputs_reader(self, eid: str) -> InputsReader:
        """A reader of ``eid``'s blocks that reads a pack once for its consecutive blocks."""
        return InputsReader(self, eid)

    def read_inputs_object(self, eid: str, info: BlockInfo) -> tuple[str, bytes]:
        """(path, bytes) of the object holding ``info``'s inputs: the block's own, or its pack."""
        path = self.layout.inputs(eid, info.inputs_object)
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
        lease = Lease.now(name, writer, interval, ended=ended)
        self.files.put(self.layout.lease(eid, name), lease.to_json(), volatile=True)

    def read_leases(self, eid: str) -> list[Lease]:
        """Every readable lease of ``eid`` (an unreadable one proves nothing and is left out)."""
        paths = self.files.find(self.layout.leases_dir(eid))
        leases = (Lease.from_json(data) for data in self.files.get_many(paths).values())
        return [lease for lease in leases if lease is not None]

    def live_leases(self, eid: str, now: float | None = None) -> list[Lease]:
        """The leases of ``eid`` that prove something of it still runs."""
        return alive(self.read_leases(eid), time.time() if now is None else now)

    def is_running(self, eid: str) -> bool:
        """Whether a worker of ``eid`` (or a client holding its claim) is alive, read from the store."""
        return bool(self.live_leases(eid))

    # -- claims --------------------------------------------------------------------------------

    def claim(self, eid: str, *, force: bool = False, wait: float = 120.0) -> Claim:
        """Take the claim on ``eid`` (see ``_claims``): only one client runs or resumes an execution
        at a time. Raises ``ExecutionClaimed`` naming the holder, and saying how to attach, while
        its holder or the run it started is alive (its leases). ``force``: ask that run to stop,
        wait (at most ``wait`` s) until its workers have flushed and ended, then take over."""
        mine = new_holder()
        took_over: str | None = None
        for _ in range(3):  # lost a race only when someone else took the claim: then re-examine
            gen, released = latest(self.files.listdir(self.layout.claims_dir(eid)))
            if gen and not released:
                took_over = self._break_or_refuse(eid, gen, force, wait)
            elif gen and force:  # forced again after an earlier forced resume: continue from that one
                took_over = self._runs(eid, gen)
            hold(mine)  # before the write: from then on this process may hold it
            try:
                won = self._take(self.layout.claim(eid, gen + 1), mine)
            except BaseException:
                let_go(mine)
                raise
            if won:
                beat = Heartbeat(self, eid, mine.lease_name, interval=CLIENT_LEASE_INTERVAL, poll=0,
                                 watch_cancel=False)
                try:
                    beat.start()
                except BaseException:
                    let_go(mine)
                    raise
                return Claim(eid, gen + 1, mine, beat, took_over)
            let_go(mine)
            force = False  # a fresh claim by someone else is never broken by force
        raise ExecutionClaimed(f"execution {eid}: could not take its claim (contended)")

    def point(self, claim: Claim, runs: str) -> None:
        """Record on ``claim`` the execution its holder started: its workers keep the claim alive."""
        self.files.put(self.layout.claim_runs(claim.execution, claim.generation), json.dumps({"format": FORMAT_VERSION, "runs": runs}).encode())

    def _take(self, path: str, mine: Holder) -> bool:
        if self.files.put_new(path, mine.to_json()):
            return True
        theirs = Holder.from_json(self.files.get(path))
        return theirs is not None and theirs.token == mine.token  # our PUT landed, its reply did not

    def _runs(self, eid: str, gen: int) -> str | None:
        try:
            obj = json.loads(self.files.get(self.layout.claim_runs(eid, gen)))
            return validate_execution_id(obj["runs"])
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError, InvalidArgument):
            log.warning("claim %s of %s names no readable run", gen, eid)
            return None

    def _alive(self, eid: str, gen: int, holder: Holder) -> tuple[bool, str | None]:
        """(whether the claim's holder, or the run it started, is alive; that run's id)."""
        runs = self._runs(eid, gen)
        if holder.mine():
            return True, runs
        if holder.abandoned_here():
            return False, runs
        if any(lease.name == holder.lease_name for lease in self.live_leases(eid)):
            return True, runs
        if runs is not None and self.is_running(runs):
            return True, runs
        return (runs is None and holder.in_grace()), runs

    def _break_or_refuse(self, eid: str, gen: int, force: bool, wait: float) -> str | None:
        """Decide on the live claim ``gen``: return the run it had started when it is taken over."""
        path = self.layout.claim(eid, gen)
        holder = Holder.from_json(self.files.get(path))
        if holder is None:
            log.warning("claim %s is unreadable: taken over", path)
            return None
        alive_now, runs = self._alive(eid, gen, holder)
        if not alive_now:
            log.warning("claim %s held by %s, whose leases have all ended or expired: taken over",
                        path, holder.describe())
            return runs
        running = runs or eid
        if not force:
            raise ExecutionClaimed(
                f"execution {eid} is claimed by {holder.describe()} ({path}) and execution {running} "
                f"is still running: attach to it with pylo.attach({running!r}) (or `pylo attach STORE "
                f"{running}`), wait for it to end, or stop it and resume with force=True."
            )
        if holder.mine():
            raise ExecutionClaimed(f"execution {eid} is being run or resumed by this very process ({running}); "
                                   "wait for that run or cancel it")
        log.warning("claim %s held by %s: stopping execution %s before taking over (force=True)",
                    path, holder.describe(), running)
        self._stop_and_wait(eid, gen, holder, running, wait)
        return runs

    def _stop_and_wait(self, eid: str, gen: int, holder: Holder, running: str, wait: float) -> None:
        """Ask ``running`` to stop and wait until nothing of it is alive: its workers flush first."""
        for target in {eid, running}:
            self.request_cancel(target)
        deadline = time.monotonic() + wait
        while self._alive(eid, gen, holder)[0] or self.is_running(eid):
            if time.monotonic() > deadline:
                raise ExecutionClaimed(f"execution {running} was asked to stop but still runs after {wait:g}s")
            time.sleep(0.2)

    def release(self, claim: Claim) -> None:
        """Give back a claim taken by ``claim``; idempotent. A forked child of the holder (a task
        that called ``os.fork``) never releases its parent's claim."""
        if claim.holder.pid != os.getpid():
            return
        let_go(claim.holder)
        body = json.dumps({"format": FORMAT_VERSION, "token": claim.holder.token}).encode()
        self.files.put(self.layout.claim(claim.execution, claim.generation, released=True), body)
        if claim.heartbeat is not None:
            claim.heartbeat.end()

    def abandon(self, claim: Claim) -> None:
        """Stop holding ``claim`` without writing to the store (it is unreachable): its lease is no
        longer renewed, so it expires and everyone, this process included, takes it over."""
        if claim.holder.pid != os.getpid():
            return
        let_go(claim.holder)
        if claim.heartbeat is not None:
            claim.heartbeat.abandon()
        log.error("execution %s: the store became unreachable; its claim was abandoned and counts as "
                  "stale once its lease expires (about %gs)", claim.execution,
                  CLIENT_LEASE_INTERVAL * EXPIRY_INTERVALS)

    def claimed_run(self, eid: str) -> str | None:
        """The execution that the holder of ``eid``'s live claim started (a resume), if it said."""
        gen, released = latest(self.files.listdir(self.layout.claims_dir(eid)))
        return None if not gen or released else self._runs(eid, gen)

    def claim_holder(self, eid: str) -> Holder | None:
        """Who holds the claim on ``eid`` now, or ``None``."""
        gen, released = latest(self.files.listdir(self.layout.claims_dir(eid)))
        if not gen or released:
            return None
        return Holder.from_json(self.files.get(self.layout.claim(eid, gen)))


def _store(url: str, options: dict[str, Any], retry_for: float) -> Store:
    # A store arriving in another process was checked where it was made: checking the root
    # again would cost two requests on an object store for every Dask task that carries it.
    store = Store.__new__(Store)
    store.files = Files(url, options, retry_for=retry_for)
    store.layout = Layout(store.files.root)
    return store


def order_by_parents(parents: dict[str, str | None]) -> list[str]:
    """The ids of ``parents`` (id → its parent) sorted by id, except that a parent always comes
    before its children. A loop (only a hand-edited store has one) falls back to id order."""
    children: dict[str, list[str]] = {}
    ready: list[str] = []
    for eid, parent in parents.items():
        if parent is not None and parent in parents and parent != eid:
            children.setdefault(parent, []).append(eid)
        else:
            ready.append(eid)
    heapq.heapify(ready)
    out: list[str] = []
    while ready:
        eid = heapq.heappop(ready)
        out.append(eid)
        for child in children.pop(eid, ()):
            heapq.heappush(ready, child)
    placed = set(out)
    return out + sorted(e for e in parents if e not in placed)


class InputsReader:
    """Reads the inputs of one execution's blocks, keeping the last pack it read: a reader going
    through a worker's consecutive blocks GETs each pack once, and holds one pack at most."""

    def __init__(self, store: Store, eid: str) -> None:
        self.store, self.eid = store, eid
        self._pack: tuple[int, str, list[bytes]] | None = None  # (first block, path, its blocks)

    def read(self, info: BlockInfo) -> tuple[Sequence[int] | None, list[Any]]:
        if info.pack is None:
            path, data = self.store.read_inputs_object(self.eid, info)
        else:
            path, blobs = self._blocks_of(info)
            if info.block - info.pack >= len(blobs):
                raise CorruptSnapshot(f"corrupt input pack {path}: no block {info.block} in it", path)
            data = blobs[info.block - info.pack]
            path = f"{path} (block {info.block})"
        return _load_inputs(data, path, info)

    def _blocks_of(self, info: BlockInfo) -> tuple[str, list[bytes]]:
        assert info.pack is not None
        if self._pack is None or self._pack[0] != info.pack:
            self._pack = None  # the old one is let go before the new one is read
            path, data = self.store.read_inputs_object(self.eid, info)
            self._pack = (info.pack, path, decode_pack(data, path, info.pack))
        return self._pack[1], self._pack[2]


def _load_inputs(data: bytes, path: str, info: BlockInfo) -> tuple[Sequence[int] | None, list[Any]]:
    try:
        positions, values = pickle.loads(data)
    except Exception as exc:  # any unpickling failure means a damaged object
        raise CorruptSnapshot(f"corrupt input block {path}: {exc!r}", path) from exc
    if not isinstance(values, list) or len(values) != info.count:
        raise CorruptSnapshot(f"corrupt input block {path}: expected {info.count} inputs", path)
    return positions, values


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


def _as_url(url: object) -> str:
    if isinstance(url, os.PathLike):
        url = os.fspath(url)
    if not isinstance(url, str) or not url:
        raise InvalidArgument(f"store must be a path or an fsspec URL, got {url!r}")
    if "://" not in url and "::" not in url:
        _refuse_mistyped_url(url)
        # A plain path, made absolute here: Dask workers resolve it against their own cwd.
        url = os.path.abspath(os.path.expanduser(url))
    return url


_SCHEME = re.compile(r"\A([A-Za-z][A-Za-z0-9+.-]+)(:/*|//)")


def _refuse_mistyped_url(path: str) -> None:
    """``s3:/bucket`` or ``s3//bucket`` would silently become a local folder named ``s3:``."""
    match = _SCHEME.match(path)
    if match and match.group(1).lower() in fsspec.available_protocols():
        scheme = match.group(1)
        raise InvalidArgument(
            f"store {path!r} looks like a mistyped URL; did you mean {scheme}://{path[match.end():]}? "
            f"(a local folder with that name: pass ./{path})"
        )


def _checked_options(options: object) -> dict[str, Any]:
    """``storage_options`` must be a dict of keyword arguments for fsspec, and its ``*_kwargs``
    entries (``client_kwargs``, ``config_kwargs``…) dicts too: fsspec would fail later, deep
    inside the first request, with a bare ``TypeError``."""
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise InvalidArgument(
            f"storage_options must be a dict of fsspec options, got {type(options).__name__} {options!r}"
        )
    for key, value in options.items():
        if not isinstance(key, str):
            raise InvalidArgument(f"storage_options keys must be strings, got {key!r}")
        if key.endswith("_kwargs") and not isinstance(value, Mapping):
            raise InvalidArgument(f"storage option {key} must be a dict, got {type(value).__name__} {value!r}")
    return dict(options)
