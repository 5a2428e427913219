"""The one place pylo touches fsspec: atomic writes, reads, listings, retries, error translation.

Every object is written once: on local disk through a temp file renamed in the same directory,
elsewhere as a single PUT. Transient failures are retried with exponential backoff, then raised as
``StoreUnreachable``; a missing object stays ``FileNotFoundError`` for the caller to interpret.

Durability on local disk: each object's temp file is fsynced before the rename, so no object is
ever seen torn or empty after a power cut. For the objects whose loss would matter (manifests,
input blocks, claims, worker outcomes, cancel markers) the directory is fsynced after the rename
too (and so is the parent of a directory just created), so they are still there after it.
The input blocks of a new execution are the exception to the first rule: nothing reads them
before the manifest that makes the execution exist, so they are written in place, and past the
first few hundred, on Linux, without an fsync each: one ``syncfs`` of the file system makes them
durable together, data and names, before the manifest is written. Progress segments and
exception records, written at every flush, skip that second fsync: a power cut can lose the
newest of them, whole (the file system's last few seconds, 5 s on ext4), and their inputs run
again on resume, as after any crash. Leases are not fsynced at all: they say that a worker or
client is alive, which a power cut makes false anyway (a lease lost or torn by it reads as not
alive, which is then the truth); nor is the marker that releases a claim (lost, it leaves a
claim whose lease is no longer renewed: the next client takes it over). A writer killed
mid-write leaves a ``.tmp-*`` file, which every reader ignores and ``remove_stale_temps`` deletes.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import shutil
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import fsspec
from fsspec.implementations.local import LocalFileSystem
from fsspec.implementations.memory import MemoryFileSystem

from ..errors import CorruptSnapshot, InvalidArgument, StoreNotFound, StoreNotWritable, StoreUnreachable
from .._extras import extra_for_protocol, install_hint
from ._unique import unique_hex

__all__ = ["TEMP_PREFIX", "Files", "atomic_create"]

#: The name of a local write in progress: hidden from every listing, removed once stale.
TEMP_PREFIX = ".tmp-"
#: How long a store operation is retried before ``StoreUnreachable`` (an option of ``Store``).
DEFAULT_RETRY_SECONDS = 6.5  # six attempts, 6.2 s of backoff between them

log = logging.getLogger(__name__)
T = TypeVar("T")

# Permanent answers: retrying them cannot help.
_PERMANENT = (FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError, PermissionError)


def _transient_errors() -> tuple[type[BaseException], ...]:
    """The errors a store operation is retried after: the system's, and the errors of the client
    libraries imported so far (s3fs lets botocore's connection errors through, and aiohttp's;
    they are not OSErrors). A library not imported yet has raised nothing: importing them up
    front cost every Dask worker process 0.1 s before its first block."""
    kinds: list[type[BaseException]] = [OSError, TimeoutError, ConnectionError]
    for module, name in (("botocore.exceptions", "BotoCoreError"), ("aiohttp", "ClientError")):
        kind = getattr(sys.modules.get(module), name, None)
        if isinstance(kind, type) and issubclass(kind, BaseException):
            kinds.append(kind)
    return tuple(kinds)


class Files:
    """Bytes at paths under one fsspec root. Pickles as its URL and options, never its connection."""

    def __init__(
        self,
        url: str,
        storage_options: dict[str, Any] | None = None,
        *,
        retry_for: float = DEFAULT_RETRY_SECONDS,
        attempts: int | None = None,
        backoff: float = 0.2,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        durable: bool = True,
    ) -> None:
        self.url = url
        self.durable = durable  # fsync local writes (see the module docstring)
        self.storage_options = dict(storage_options or {})
        self.retry_for = retry_for
        self.attempts = attempts  # at most this many attempts too, when given
        self.backoff = backoff
        self._sleep, self._clock = sleep, clock
        try:
            fs, root = fsspec.core.url_to_fs(url, **_with_defaults(url, self.storage_options))
        except ImportError as exc:
            raise InvalidArgument(f"cannot open store {url!r}: {exc}{_extra_hint(url)}") from exc
        except (ValueError, TypeError) as exc:
            raise InvalidArgument(f"cannot open store {url!r}: {exc}") from exc
        self.fs: fsspec.AbstractFileSystem = fs
        self.root: str = root.rstrip("/") or root
        self.local = isinstance(fs, LocalFileSystem)
        self._memory = isinstance(fs, MemoryFileSystem)
        # s3fs asks for an object's size (a HEAD) before every read, to decide whether to read
        # it in parallel ranges; pylo's objects are read whole, so one GET each is enough: on an
        # object store the request count, not the bytes, is what a run waits on.
        self._read_options: dict[str, Any] = {"max_concurrency": 1} if hasattr(fs, "max_concurrency") else {}

    def __reduce__(self) -> tuple[Any, ...]:
        return (_files, (self.url, self.storage_options, self.retry_for, self.attempts, self.backoff))

    @property
    def remote(self) -> bool:
        """Whether a request waits on a network (an object store): not local disk, not memory."""
        return not (self.local or self._memory)

    @property
    def protocol(self) -> str:
        proto: str | tuple[str, ...] = self.fs.protocol
        return proto if isinstance(proto, str) else proto[0]

    # -- retries -------------------------------------------------------------------------------

    def retrying(self, what: str, op: Callable[[], T]) -> T:
        """Run ``op``, retrying transient store errors with exponential backoff for at most
        ``retry_for`` seconds in all (the attempts' own time counts) and at most ``attempts``
        attempts when given, then ``StoreUnreachable``."""
        delay = self.backoff
        start = self._clock()
        attempt = 0
        while True:
            attempt += 1
            try:
                return op()
            except _PERMANENT:
                raise
            except (RuntimeError, KeyError) as exc:
                # fsspec's memory store lists by walking the one dict that other threads of the
                # process may be writing to (planning's uploads, in-process Dask workers): such
                # a listing fails now and then (the dict changed size, or a key it had just seen
                # was deleted), and is simply done again.
                if not (self._memory and _listing_raced(exc)) or attempt >= 10:
                    raise
            except _transient_errors() as exc:
                elapsed = self._clock() - start
                if elapsed + delay > self.retry_for or attempt == self.attempts:
                    raise StoreUnreachable(
                        f"store {self.url!r}: {what} failed after {attempt} attempts in {elapsed:.1f}s: {exc}"
                    ) from exc
                log.warning("store %s: %s failed (%s); retry %d in %.1fs", self.url, what, exc, attempt, delay)
                self._sleep(delay)
                delay = min(delay * 2, 10.0)

    # -- writes --------------------------------------------------------------------------------

    def put(self, path: str, data: bytes, *, keep_name: bool = True, volatile: bool = False,
            synced_later: bool = False, defer_sync: bool = False) -> None:
        """Write ``data`` at ``path`` atomically: readers see all of it or nothing. On local disk
        the data is fsynced before the rename; with ``keep_name`` the directory is too, so the
        name survives a power cut (without, a power cut may lose the newest such objects, whole,
        never leave them torn). ``volatile``: nothing is fsynced (a lease: see above).
        ``synced_later``: nothing reads the object until the caller has made it survive a power
        cut, data and name, with ``sync_written`` (an execution's input blocks, before its
        manifest): on local disk it is written in place, with no temp file to rename.
        ``defer_sync`` too: where one call can sync a whole file system (``syncs_at_once``), the
        object is not fsynced here, and ``sync_written(at_once=True)`` makes it durable."""
        with self._refused_write(path):
            if synced_later and self.local:
                sync = self.durable and not (defer_sync and self.syncs_at_once())
                self.retrying(f"write {path}", lambda: self._write_in_place(path, data, sync))
            else:
                self.retrying(f"write {path}", lambda: self._put(path, data, keep_name, volatile))

    def _write_in_place(self, path: str, data: bytes, sync: bool) -> None:
        try:
            _write_new(path, data, sync, exclusive=False)
        except FileNotFoundError:
            self._makedirs(os.path.dirname(path), durable=False)  # kept by ``sync_written`` too
            _write_new(path, data, sync, exclusive=False)

    @contextlib.contextmanager
    def _refused_write(self, path: str) -> Iterator[None]:
        """Name the object of a refused write in a typed error. A permission error is a
        ``StoreUnreachable`` (nothing more can be written), so the runners stop writing and the
        first refused write is the one reported, not a later one that failed after it. On an
        object store a write finds nothing missing but the bucket itself."""
        try:
            yield
        except PermissionError as exc:
            raise StoreNotWritable(f"store {self.url!r}: cannot write {path}: {exc}") from exc
        except FileNotFoundError as exc:
            if self.local:
                raise
            bucket = self.root.split("/", 1)[0]
            raise StoreNotFound(
                f"store {self.url!r}: the bucket {bucket!r} does not exist (writing {path}): {exc}"
            ) from exc

    def _put(self, path: str, data: bytes, keep_name: bool = True, volatile: bool = False) -> None:
        if not self.local:
            self.fs.pipe_file(path, data)
            return
        sync = self.durable and not volatile
        directory = os.path.dirname(path)
        tmp = f"{directory}/{TEMP_PREFIX}{unique_hex()}"
        try:
            _write_new(tmp, data, sync)
        except FileNotFoundError:  # a new directory's name is kept as the object's would be
            self._makedirs(directory, durable=keep_name)
            _write_new(tmp, data, sync)
        try:
            os.replace(tmp, path)
        except BaseException:
            _unlink_quietly(tmp)
            raise
        if sync and keep_name:
            _fsync_dir(directory)

    def sync_written(self, directory: str, *, at_once: bool = False) -> None:
        """Make the objects written in ``directory`` with ``synced_later`` survive a power cut,
        data and names: one directory fsync, their data having been fsynced as they were
        written; with ``at_once`` (some were written with ``defer_sync``) and on Linux, one
        ``syncfs`` of the file system instead (thousands of input blocks cost one call, not an
        fsync each; it also waits for whatever else is written to that file system, so a few
        blocks are cheaper fsynced one by one)."""
        if not (self.local and self.durable):
            return
        if not (at_once and self.syncs_at_once()):
            self.keep_names(directory)
            return
        with self._refused_write(directory):
            self.retrying(f"sync {directory}", lambda: _syncfs(directory))

    def syncs_at_once(self) -> bool:
        return self.local and self.durable and _libc_syncfs() is not None

    def keep_names(self, directory: str) -> None:
        """Make the names of the objects written in ``directory`` with ``keep_name=False`` survive
        a power cut: one directory fsync for all of them (local disk; elsewhere a write is
        durable once it returns)."""
        if self.local and self.durable:
            with self._refused_write(directory):
                self.retrying(f"sync {directory}", lambda: _fsync_dir(directory))

    def make_dirs(self, directories: Iterable[str]) -> None:
        """Create ``directories`` (local disk; an object store has none) and make their names
        survive a power cut: one fsync of each directory that holds new ones, however many."""
        if not self.local:
            return
        with self._refused_write(self.root):
            self.retrying(f"create directories under {self.root}", lambda: self._make_all(list(directories)))

    def _make_all(self, directories: list[str]) -> None:
        created: list[str] = []
        for directory in directories:
            created += self._create(directory)
        if self.durable:
            for parent in dict.fromkeys(os.path.dirname(c) for c in created):
                _fsync_dir(parent)

    def _makedirs(self, directory: str, *, durable: bool = True) -> None:
        """Create ``directory`` and its missing parents; with ``durable`` (and a durable store),
        make each new name survive a power cut (fsync the directory that holds it)."""
        created = self._create(directory)
        if self.durable and durable:
            for new in created:
                _fsync_dir(os.path.dirname(new))

    @staticmethod
    def _create(directory: str) -> list[str]:
        """Create ``directory`` and its missing parents; return those created, outermost first.
        The usual case, a block's new directory in an existing one, is one system call."""
        try:
            return [directory] if _made(directory) else []
        except FileNotFoundError:
            parent = os.path.dirname(directory)
            if not parent or parent == directory:
                raise
            created = Files._create(parent)
            return [*created, directory] if _made(directory) else created

    def put_new(self, path: str, data: bytes, *, volatile: bool = False, probe: bool = True) -> bool:
        """Write ``path`` only if it does not exist yet; return whether this call created it.

        Create-only and atomic, the way each service offers it (see ``atomic_create``): locally a
        complete temp file is hard-linked into place (the link fails if the name exists); on S3
        one PUT with ``If-None-Match: *``, on GCS an upload with ``ifGenerationMatch=0``, on Azure
        an upload with ``overwrite=False`` (``If-None-Match: *``). Two callers racing for the
        same path: exactly one gets ``True``. Raises ``InvalidArgument`` on a store that cannot
        create an object atomically: claims would race there silently. ``volatile``: nothing is
        fsynced (a take of a block, like a lease, matters only while the run lives). ``probe``: on
        an object store, look first (a HEAD) when a refusal is the likely answer; a take of a
        block usually wins, so it writes at once.
        """
        if self.local:
            with self._refused_write(path):
                return self.retrying(f"create {path}", lambda: self._link_new(path, data, not volatile))
        how = atomic_create(self.fs)
        if how is None:
            raise InvalidArgument(
                f"store {self.url!r} ({type(self.fs).__module__}.{type(self.fs).__qualname__}) cannot create an "
                "object only if it is absent, atomically; pylo's claims need that (two clients resuming at "
                "once would both win). Use local disk, memory://, s3://, gs:// or az:// (abfs://)."
            )
        if probe and self.exists(path):  # the common refusal costs a HEAD, not a failed upload
            return False
        try:
            with self._refused_write(path):
                self.retrying(f"create {path}", lambda: self._pipe_new(path, data, how))
        except FileExistsError:
            return False
        return True

    def _pipe_new(self, path: str, data: bytes, how: str) -> None:
        # memory://: one process's dict, whose check-then-write one lock makes atomic.
        with _MEMORY_CREATE if how == _IN_PROCESS else contextlib.nullcontext():
            self.fs.pipe_file(path, data, mode="create")

    def _link_new(self, path: str, data: bytes, sync: bool = True) -> bool:
        directory = os.path.dirname(path)
        tmp = f"{directory}/{TEMP_PREFIX}{unique_hex()}"
        sync = sync and self.durable
        try:
            _write_new(tmp, data, sync)
        except FileNotFoundError:  # the directory's first object (the usual case finds it there)
            self._makedirs(directory)
            _write_new(tmp, data, sync)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        finally:
            _unlink_quietly(tmp)
        if sync:
            _fsync_dir(directory)
        return True

    def remove_stale_temps(self, prefix: str, older_than: float, *, dry_run: bool = False) -> list[str]:
        """Delete the temp files under ``prefix`` (local disk only) last modified more than
        ``older_than`` seconds ago: what writers killed mid-write left. A younger one may belong
        to a write still going on, and is kept. Returns the paths removed (with ``dry_run``,
        those it would remove)."""
        if not self.local:
            return []  # object stores write with one PUT: nothing partial is ever left
        removed = []
        cutoff = time.time() - older_than
        for directory, _dirs, files in os.walk(prefix):
            for name in files:
                path = f"{directory}/{name}"
                if not name.startswith(TEMP_PREFIX):
                    continue
                try:
                    if os.lstat(path).st_mtime < cutoff:
                        if not dry_run:
                            os.unlink(path)
                        removed.append(path)
                except FileNotFoundError:  # its writer finished (or another cleaner came first)
                    continue
        return removed

    def rm(self, path: str) -> None:
        def op() -> None:
            try:
                if self.local:
                    _remove_local(path)
                else:
                    self.fs.rm(path, recursive=True)
            except FileNotFoundError:
                pass

        self.retrying(f"delete {path}", op)

    # -- reads ---------------------------------------------------------------------------------

    def get(self, path: str, limit: int | None = None) -> bytes:
        """The bytes of one object. A damaged or hostile store cannot make this hang or read
        without bound: locally only a regular file is opened (a FIFO or a directory there is a
        ``CorruptSnapshot``), and an object larger than ``limit`` bytes is refused unread."""
        if self.local:
            return self.retrying(f"read {path}", lambda: _read_local(path, limit))
        if limit is not None:
            size = self.retrying(f"stat {path}", lambda: self.fs.info(path).get("size"))
            _check_size(path, size, limit)
        data = bytes(self.retrying(f"read {path}", lambda: self.fs.cat_file(path, **self._read_options)))
        _check_size(path, len(data), limit)
        return data

    def get_many(
        self, paths: Iterable[str], limit: int | None = None, sizes: dict[str, int | None] | None = None
    ) -> dict[str, bytes]:
        """Read many objects at once (concurrently on object stores), each at most ``limit``
        bytes (see ``get``). ``sizes``: what a listing said (``find_sized``); on an object store
        the objects it does not cover are listed again to learn theirs."""
        paths = list(paths)
        if not paths:
            return {}
        if self.local:
            return {p: self.get(p, limit) for p in paths}
        if limit is not None:
            known = dict(sizes or {})
            unknown = [p for p in paths if known.get(p) is None]
            if unknown:
                known.update(self.retrying("stat objects", lambda: self._sizes(unknown)))
            for path in paths:
                _check_size(path, known.get(path), limit)
        out = self.retrying("read objects", lambda: self.fs.cat(paths, on_error="return", **self._read_options))
        result: dict[str, bytes] = {}
        for path in paths:
            value: Any = out.get(path) if isinstance(out, dict) else out
            if isinstance(value, FileNotFoundError):
                continue  # deleted between listing and reading: skip it
            if isinstance(value, BaseException):
                raise StoreUnreachable(f"store {self.url!r}: read {path} failed: {value}") from value
            _check_size(path, len(value), limit)
            result[path] = bytes(value)
        return result

    def _sizes(self, paths: list[str]) -> dict[str, int | None]:
        """Sizes from the listings of the objects' directories (one request per directory)."""
        sizes: dict[str, int | None] = {}
        for directory in sorted({p.rsplit("/", 1)[0] for p in paths}):
            try:
                entries = self.fs.ls(directory, detail=True)
            except FileNotFoundError:
                continue
            for entry in entries:
                sizes[str(entry["name"]).rstrip("/")] = _size(entry)
        return sizes

    def exists(self, path: str) -> bool:
        if self.local:
            return bool(self.retrying(f"stat {path}", lambda: os.path.exists(path)))
        return bool(self.retrying(f"stat {path}", lambda: self.fs.exists(path)))

    def isfile(self, path: str) -> bool:
        return bool(self.retrying(f"stat {path}", lambda: self.fs.isfile(path)))

    def find(self, prefix: str) -> list[str]:
        """Every object under ``prefix``, sorted; empty when there is none."""
        return list(self.find_sized(prefix))

    def find_sized(self, prefix: str) -> dict[str, int | None]:
        """Every object under ``prefix`` with its size as the listing says (``None`` on local
        disk, where a read checks it), sorted by path; empty when there is none."""

        def op() -> dict[str, int | None]:
            found: dict[str, int | None]
            if self.local:
                found = dict.fromkeys(_find_local(prefix))
            else:
                self.fs.invalidate_cache(prefix)
                try:
                    listing = self.fs.find(prefix, detail=True)
                except FileNotFoundError:
                    return {}
                found = {str(p): _size(info) for p, info in listing.items()}
            return {p: found[p] for p in sorted(found) if f"/{TEMP_PREFIX}" not in p}

        return self.retrying(f"list {prefix}", op)

    def listdir(self, prefix: str) -> list[str]:
        """The names directly under ``prefix``, sorted; empty when there is none."""

        def op() -> list[str]:
            try:
                if self.local:  # names only, no stat per entry: a busy directory is listed often
                    names: Iterable[str] = os.listdir(prefix)
                else:
                    self.fs.invalidate_cache(prefix)
                    names = (str(e).rstrip("/").rsplit("/", 1)[-1] for e in self.fs.ls(prefix, detail=False))
            except FileNotFoundError:
                return []
            return sorted(n for n in names if not n.startswith(TEMP_PREFIX))

        return self.retrying(f"list {prefix}", op)


def _files(url: str, options: dict[str, Any], retry_for: float, attempts: int | None, backoff: float) -> Files:
    return Files(url, options, retry_for=retry_for, attempts=attempts, backoff=backoff)


# botocore retries a refused connection itself, several times with its own backoff, and waits 60 s
# for a connection to open: under pylo's own retries that made an unreachable endpoint silent for
# a minute. pylo does the retrying (visible, within ``retry_for``); an option given wins.
_S3_CONFIG = {"connect_timeout": 5, "retries": {"total_max_attempts": 1}}


# The create-only write of each fsspec implementation known to be atomic on its service, by the
# class that defines it: a subclass that overrides the write is not trusted (fsspec's generic
# ``mode="create"`` checks for the object and then writes it: two writers can both win).
_ATOMIC_CREATES = {
    "s3fs.core.S3FileSystem": "S3 PUT with If-None-Match: *",
    "gcsfs.core.GCSFileSystem": "GCS upload with ifGenerationMatch=0",
    # Delegates to the above except on zonal buckets (gRPC appendable objects).
    "gcsfs.extended_gcsfs.ExtendedGcsFileSystem": "GCS upload with ifGenerationMatch=0",
    "adlfs.spec.AzureBlobFileSystem": "Azure upload with overwrite=False (If-None-Match: *)",
    "fsspec.implementations.memory.MemoryFileSystem": "in-process, under a lock",
}
_IN_PROCESS = _ATOMIC_CREATES["fsspec.implementations.memory.MemoryFileSystem"]
_MEMORY_CREATE = threading.Lock()


def atomic_create(fs: Any) -> str | None:
    """How ``fs`` creates an object only if it is absent, atomically (a description), or
    ``None`` when it cannot. Decided by the class that implements ``fs``'s write: the first in
    its MRO that defines ``pipe_file`` or ``_pipe_file``."""
    if isinstance(fs, LocalFileSystem):
        return "hard link of a complete temp file"
    for cls in type(fs).__mro__:
        if "pipe_file" in vars(cls) or "_pipe_file" in vars(cls):
            return _ATOMIC_CREATES.get(f"{cls.__module__}.{cls.__qualname__}")
    return None


def _listing_raced(exc: Exception) -> bool:
    return isinstance(exc, KeyError) or "changed size during iteration" in str(exc)


def _with_defaults(url: str, options: dict[str, Any]) -> dict[str, Any]:
    protocol = url.split("://", 1)[0] if "://" in url else ""
    if protocol not in ("s3", "s3a"):
        return options
    config = dict(options.get("config_kwargs") or {})
    for key, value in _S3_CONFIG.items():
        config.setdefault(key, value)
    return {**options, "config_kwargs": config}


def _size(info: Any) -> int | None:
    size = info.get("size") if isinstance(info, dict) else None
    return size if isinstance(size, int) else None


@functools.cache
def _libc_syncfs() -> Callable[[int], int] | None:
    """Linux's ``syncfs(fd)``, which ``os`` does not offer, or ``None`` elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        fn = ctypes.CDLL(None, use_errno=True).syncfs
    except (AttributeError, OSError):
        return None
    fn.argtypes, fn.restype = [ctypes.c_int], ctypes.c_int
    return fn


def _syncfs(directory: str) -> None:
    """Write out everything written to the file system holding ``directory`` and wait for it
    (the call lets other threads run meanwhile, as ``os.fsync`` does)."""
    syncfs = _libc_syncfs()
    assert syncfs is not None
    fd = os.open(directory, os.O_RDONLY)
    try:
        if syncfs(fd) != 0:
            import ctypes

            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), directory)
    finally:
        os.close(fd)


def _made(directory: str) -> bool:
    """Make ``directory``; ``False`` when it was there already (made meanwhile by another
    writer, say). A file in its place is an error, as is a missing parent."""
    try:
        os.mkdir(directory)
    except FileExistsError:
        if not os.path.isdir(directory):
            raise
        return False
    return True


def _fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _find_local(prefix: str) -> list[str]:
    """Every entry under ``prefix`` that is not a directory of its own: files, FIFOs, sockets,
    and symlinks (to directories too, which are listed, never followed: a link to a parent
    would otherwise loop). Readers then refuse whatever is not a regular file."""

    def fail(exc: OSError) -> None:
        raise exc

    found: list[str] = []
    try:
        for directory, dirs, files in os.walk(prefix, onerror=fail):
            found += [f"{directory}/{name}" for name in files]
            found += [f"{directory}/{name}" for name in dirs if os.path.islink(f"{directory}/{name}")]
    except FileNotFoundError:
        return []
    except NotADirectoryError:
        return [prefix]
    return found


def _write_new(path: str, data: bytes, sync: bool, *, exclusive: bool = True) -> None:
    """Create ``path`` (with ``exclusive``, it must not exist; without, a partial write of an
    attempt before is replaced) holding ``data``; fsync it with ``sync``. Plain descriptor
    calls: each system call lets other threads take the GIL, and a worker among hundreds in one
    process waits for it again after each (a Python file object adds three)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC), 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)


def _read_local(path: str, limit: int | None) -> bytes:
    """Read a regular file of at most ``limit`` bytes. Opened without blocking (a FIFO would
    block the open), then its type and size are checked on the open descriptor."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        info = os.fstat(fd)
        _check_regular(path, info.st_mode)
        _check_size(path, info.st_size, limit)
        # Read what the stat said, plus one byte to see the file grew since: asking for
        # ``limit`` bytes at once would allocate a buffer of ``limit`` (64 MB for a segment)
        # at every read of a few hundred bytes. A short read is the end of a regular file.
        cap = None if limit is None else limit + 1
        chunks: list[bytes] = []
        size, want = 0, info.st_size + 1
        while cap is None or size < cap:
            n = want if cap is None else min(want, cap - size)
            chunk = os.read(fd, n)
            chunks.append(chunk)
            size += len(chunk)
            if len(chunk) < n:
                break
            want = max(want, 1 << 16)  # it grew since: read on in larger pieces
    finally:
        os.close(fd)
    data = b"".join(chunks)
    _check_size(path, len(data), limit)
    return data


def _check_regular(path: str, mode: int) -> None:
    if not stat.S_ISREG(mode):
        raise CorruptSnapshot(f"unexpected object {path}: not a regular file", path)


def _check_size(path: str, size: object, limit: int | None) -> None:
    """``CorruptSnapshot`` when an object of ``size`` bytes (``None``: unknown) exceeds ``limit``."""
    if limit is not None and isinstance(size, int) and size > limit:
        raise CorruptSnapshot(
            f"corrupt object {path}: {'more than ' if size == limit + 1 else ''}{size:,} bytes, "
            f"larger than the {limit:,} a pylo object of its kind can be", path
        )


def _remove_local(path: str) -> None:
    """Remove a file or a directory tree. Writers may still be adding to it (the Dask workers
    writing a bag's other partitions while a failed planning is discarded): a path that was not
    there when looked at may be a directory by the time it is removed, and a directory may gain
    an entry while it is removed (an ``OSError`` the caller retries)."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
        return
    try:
        os.unlink(path)
    except IsADirectoryError:  # made by a writer since the look
        shutil.rmtree(path)


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _extra_hint(url: str) -> str:
    """How to install what serves ``url``'s protocol, when an extra of pylo-dask does."""
    extra = extra_for_protocol(url)
    return f" ({install_hint(extra)})" if extra else ""
