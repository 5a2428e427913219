"""``verify``: check every object of an execution and its parents, and report *all* that is damaged.

Reading state stops at the first damaged object with ``CorruptSnapshot`` or ``IncompatibleSnapshot``;
``verify`` goes on and lists them all. It never runs a pickle: input blocks are checked by walking
their opcodes (``pickletools``), which finds truncation and garbage without executing anything.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import pickletools
from collections.abc import Callable

from ..errors import CorruptSnapshot, ExecutionNotFound, SnapshotError
from ..store import Manifest, Store
from ..store._exception_records import decode_records
from ..store._input_packs import decode_pack
from ..store._layout import MAX_JSON_BYTES, MAX_RECORDS_BYTES, MAX_SMALL_BYTES
from ..store._results import decode_results
from ..store._segments import _load_json, check_version, decode_segment
from ..store._stop_record import read_stop

__all__ = ["STALE_TEMP_SECONDS", "Problem", "VerifyReport", "remove_stale_temps", "verify_execution"]

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Problem:
    """One damaged object: its path, the error reading it raises, and why."""

    path: str
    error: str
    message: str

    def __str__(self) -> str:
        return f"{self.error}: {self.message}"


#: A temp file older than this was left by a writer that died: no write takes a minute.
STALE_TEMP_SECONDS = 60.0


@dataclasses.dataclass(frozen=True)
class VerifyReport:
    """What ``verify`` found for ``execution_id`` and its chain of parents. ``leftovers``: temp
    files that writers killed mid-write left (harmless, every reader ignores them), removed when
    ``repaired``."""

    execution_id: str
    checked: int
    problems: tuple[Problem, ...]
    leftovers: tuple[str, ...] = ()
    repaired: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        head = f"execution {self.execution_id}: {self.checked} objects checked, {len(self.problems)} damaged"
        lines = [head, *(f"  {p}" for p in self.problems)]
        if self.leftovers:
            done = "removed" if self.repaired else "left by killed writers (remove them with repair)"
            lines.append(f"  {len(self.leftovers)} temporary files {done}")
        return "\n".join(lines)


def verify_execution(store: Store, eid: str, *, repair: bool = False) -> VerifyReport:
    """Check ``eid`` and its parents. Raises ``ExecutionNotFound`` for an unknown ``eid`` (and
    ``InvalidArgument`` for a malformed one); damage is reported, never raised. ``repair``
    removes the stale temp files of killed writers (it changes nothing else)."""
    if not store.files.exists(store.layout.manifest(eid)):
        raise ExecutionNotFound(f"no execution {eid} in store {store.url}")
    checker = _Checker(store)
    leftovers: list[str] = []
    current: str | None = eid
    seen: set[str] = set()
    while current is not None and current not in seen:
        seen.add(current)
        leftovers += store.files.remove_stale_temps(store.layout.execution(current), STALE_TEMP_SECONDS, dry_run=not repair)
        manifest = checker.manifest(current)
        if manifest is None:
            break
        checker.execution(manifest)
        current = manifest.parent
    return VerifyReport(eid, checker.checked, tuple(checker.problems), tuple(leftovers), repair)


def remove_stale_temps(store: Store, manifests: list[Manifest]) -> None:
    """Remove what writers killed mid-write left in ``manifests``' executions (logged)."""
    for manifest in manifests:
        removed = store.files.remove_stale_temps(store.layout.execution(manifest.id), STALE_TEMP_SECONDS)
        if removed:
            log.info("execution %s: removed %d temporary files left by killed writers", manifest.id, len(removed))


class _Checker:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.checked = 0
        self.problems: list[Problem] = []

    def _check(self, path: str, check: Callable[[], object]) -> None:
        self.checked += 1
        try:
            check()
        except SnapshotError as exc:
            self.problems.append(Problem(path, type(exc).__name__, str(exc)))

    def manifest(self, eid: str) -> Manifest | None:
        path = self.store.layout.manifest(eid)
        self.checked += 1
        try:
            return self.store.read_manifest(eid)
        except ExecutionNotFound as exc:
            self.problems.append(Problem(path, "CorruptSnapshot", f"missing manifest {path}: {exc}"))
        except SnapshotError as exc:
            self.problems.append(Problem(path, type(exc).__name__, str(exc)))
        return None

    def execution(self, manifest: Manifest) -> None:
        store, layout = self.store, self.store.layout
        packs: dict[int, int] = {}  # first block of a pack or shared object -> how many blocks it must hold
        for info in manifest.blocks:
            first = info.inputs_first
            if first is None:
                path = layout.inputs(manifest.id, info.block)
                self._check(path, functools.partial(_check_block, store, path))
            else:
                packs[first] = info.block - first + 1
        for first, count in packs.items():
            path = layout.inputs(manifest.id, first)
            self._check(path, functools.partial(_check_pack, store, path, first, count))
        decoders: list[tuple[str, Callable[[bytes, str], object], int | None]] = [
            (layout.progress_dir(manifest.id), _segment_check(manifest), MAX_JSON_BYTES),
            (layout.errors_dir(manifest.id), decode_records, MAX_RECORDS_BYTES),
            # the container only, no pickle runs; as large as the values a flush kept
            (layout.results_dir(manifest.id), decode_results, None),
        ]
        for base, decode, limit in decoders:
            for path in store.files.find(base):
                self._check(path, functools.partial(_check_object, store, manifest, base, path, decode, limit))
        for path in store.files.find(layout.workers_dir(manifest.id)):
            self._check(path, functools.partial(_check_worker, store, path))
        if store.files.exists(layout.stopped(manifest.id)):
            self._check(layout.stopped(manifest.id), functools.partial(read_stop, store, manifest.id))


def _segment_check(manifest: Manifest) -> Callable[[bytes, str], object]:
    def check(data: bytes, path: str) -> object:
        block = int(path.rsplit("/", 2)[-2])
        return decode_segment(data, path, manifest.blocks[block].stored_span)

    return check


def _check_object(
    store: Store, manifest: Manifest, base: str, path: str, decode: Callable[[bytes, str], object], limit: int | None
) -> None:
    """Decode ``{base}/{block}/{name}``; an object outside a known block is damage too."""
    rest = path[len(base) + 1 :].split("/")
    if len(rest) != 2 or not rest[0].isdigit() or int(rest[0]) >= len(manifest.blocks) \
            or manifest.blocks[int(rest[0])].inputs_object != int(rest[0]):  # a pack's objects are under its first block
        raise CorruptSnapshot(f"unexpected object {path}: no such block", path)
    decode(_read(store, path, limit), path)


def _check_worker(store: Store, path: str) -> None:
    check_version(_load_json(_read(store, path, MAX_SMALL_BYTES), path), path)


def _read(store: Store, path: str, limit: int | None) -> bytes:
    try:
        return store.files.get(path, limit)
    except FileNotFoundError:
        raise CorruptSnapshot(f"missing object {path}", path) from None


def _check_block(store: Store, path: str) -> None:
    _check_pickle(_read_inputs(store, path), path)


def _check_pack(store: Store, path: str, first: int, count: int) -> None:
    """A pack's header, then each of its blocks as a pickle of its own."""
    blobs = decode_pack(_read_inputs(store, path), path, first)
    if len(blobs) < count:
        raise CorruptSnapshot(f"corrupt input pack {path}: {len(blobs)} blocks, expected {count}", path)
    for i, blob in enumerate(blobs):
        _check_pickle(blob, f"{path} (block {first + i})")


def _read_inputs(store: Store, path: str) -> bytes:
    try:
        return store.files.get(path)
    except FileNotFoundError:
        raise CorruptSnapshot(f"missing input block {path}", path) from None


def _check_pickle(data: bytes, path: str) -> None:
    """Walk the pickle's opcodes to its STOP without running it: truncation and garbage show."""
    try:
        ops = list(pickletools.genops(data))
    except Exception as exc:  # pickletools raises ValueError and others on malformed streams
        raise CorruptSnapshot(f"corrupt input block {path}: {exc}", path) from exc
    last = ops[-1] if ops else None
    if last is None or last[0].name != "STOP" or last[2] is None or last[2] + 1 != len(data):
        raise CorruptSnapshot(f"corrupt input block {path}: trailing or missing data", path)
