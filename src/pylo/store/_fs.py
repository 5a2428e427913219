"""The one place pylo touches fsspec: atomic writes, reads, listings, retries, error translation.

Every object is written once: on local disk through a temp file renamed in the same directory,
elsewhere as a single PUT. Transient failures are retried with exponential backoff, then raised as
``StoreUnreachable``; a missing object stays ``FileNotFoundError`` for the caller to interpret.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import fsspec
from fsspec.implementations.local import LocalFileSystem

from ..errors import InvalidArgument, StoreUnreachable

__all__ = ["Files"]

log = logging.getLogger(__name__)
T = TypeVar("T")

# Permanent answers: retrying them cannot help.
_PERMANENT = (FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError, PermissionError)


def _transient_errors() -> tuple[type[BaseException], ...]:
    kinds: list[type[BaseException]] = [OSError, TimeoutError, ConnectionError]
    try:  # s3fs lets botocore's connection errors through; they are not OSErrors.
        from botocore.exceptions import BotoCoreError
    except ImportError:  # pragma: no cover - botocore comes with s3fs
        pass
    else:
        kinds.append(BotoCoreError)
    try:
        from aiohttp import ClientError
    except ImportError:  # pragma: no cover
        pass
    else:
        kinds.append(ClientError)
    return tuple(kinds)


_TRANSIENT = _transient_errors()


class Files:
    """Bytes at paths under one fsspec root. Pickles as its URL and options, never its connection."""

    def __init__(
        self,
        url: str,
        storage_options: dict[str, Any] | None = None,
        *,
        attempts: int = 6,
        backoff: float = 0.2,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url
        self.storage_options = dict(storage_options or {})
        self.attempts = attempts
        self.backoff = backoff
        self._sleep = sleep
        try:
            fs, root = fsspec.core.url_to_fs(url, **self.storage_options)
        except (ValueError, ImportError, TypeError) as exc:
            raise InvalidArgument(f"cannot open store {url!r}: {exc}") from exc
        self.fs: fsspec.AbstractFileSystem = fs
        self.root: str = root.rstrip("/") or root
        self.local = isinstance(fs, LocalFileSystem)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_files, (self.url, self.storage_options, self.attempts, self.backoff))

    @property
    def protocol(self) -> str:
        proto: str | tuple[str, ...] = self.fs.protocol
        return proto if isinstance(proto, str) else proto[0]

    # -- retries -------------------------------------------------------------------------------

    def retrying(self, what: str, op: Callable[[], T]) -> T:
        """Run ``op``, retrying transient store errors with exponential backoff."""
        delay = self.backoff
        for attempt in range(1, self.attempts + 1):
            try:
                return op()
            except _PERMANENT:
                raise
            except _TRANSIENT as exc:
                if attempt == self.attempts:
                    raise StoreUnreachable(f"store {self.url!r}: {what} failed: {exc}") from exc
                log.warning("store %s: %s failed (%s); retry %d in %.1fs", self.url, what, exc, attempt, delay)
                self._sleep(delay)
                delay = min(delay * 2, 10.0)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- writes --------------------------------------------------------------------------------

    def put(self, path: str, data: bytes) -> None:
        """Write ``data`` at ``path`` atomically: readers see all of it or nothing."""
        self.retrying(f"write {path}", lambda: self._put(path, data))

    def _put(self, path: str, data: bytes) -> None:
        if not self.local:
            self.fs.pipe_file(path, data)
            return
        directory = os.path.dirname(path)
        tmp = f"{directory}/.tmp-{uuid.uuid4().hex}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileNotFoundError:
            os.makedirs(directory, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            _unlink_quietly(tmp)
            raise

    def put_new(self, path: str, data: bytes) -> bool:
        """Write ``path`` only if it does not exist yet; return whether this call created it.

        Create-only and atomic: locally a complete temp file is hard-linked into place (the link
        fails if the name exists); on object stores one PUT with ``If-None-Match: *``. Two callers
        racing for the same path: exactly one gets ``True``.
        """
        if self.local:
            return self.retrying(f"create {path}", lambda: self._link_new(path, data))
        if self.exists(path):
            return False
        try:
            self.retrying(f"create {path}", lambda: self.fs.pipe_file(path, data, mode="create"))
        except FileExistsError:
            return False
        except (TypeError, NotImplementedError):  # a backend without conditional writes
            log.warning("store %s cannot create objects exclusively; %s is written without a check", self.url, path)
            self.put(path, data)
        return True

    def _link_new(self, path: str, data: bytes) -> bool:
        directory = os.path.dirname(path)
        os.makedirs(directory, exist_ok=True)
        tmp = f"{directory}/.tmp-{uuid.uuid4().hex}"
        with open(tmp, "xb") as fh:
            fh.write(data)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        finally:
            _unlink_quietly(tmp)
        return True

    def rm(self, path: str) -> None:
        def op() -> None:
            try:
                self.fs.rm(path, recursive=True)
            except FileNotFoundError:
                pass

        self.retrying(f"delete {path}", op)

    # -- reads ---------------------------------------------------------------------------------

    def get(self, path: str) -> bytes:
        data = self.retrying(f"read {path}", lambda: self.fs.cat_file(path))
        return bytes(data)

    def get_many(self, paths: Iterable[str]) -> dict[str, bytes]:
        """Read many objects at once (concurrently on object stores)."""
        paths = list(paths)
        if not paths:
            return {}
        if self.local:
            return {p: self.get(p) for p in paths}
        out = self.retrying("read objects", lambda: self.fs.cat(paths, on_error="return"))
        result: dict[str, bytes] = {}
        for path in paths:
            value: Any = out.get(path) if isinstance(out, dict) else out
            if isinstance(value, FileNotFoundError):
                continue  # deleted between listing and reading: skip it
            if isinstance(value, BaseException):
                raise StoreUnreachable(f"store {self.url!r}: read {path} failed: {value}") from value
            result[path] = bytes(value)
        return result

    def exists(self, path: str) -> bool:
        return bool(self.retrying(f"stat {path}", lambda: self.fs.exists(path)))

    def isfile(self, path: str) -> bool:
        return bool(self.retrying(f"stat {path}", lambda: self.fs.isfile(path)))

    def find(self, prefix: str) -> list[str]:
        """Every object under ``prefix``, sorted; empty when there is none."""

        def op() -> list[str]:
            self.fs.invalidate_cache(prefix)
            try:
                found = self.fs.find(prefix)
            except FileNotFoundError:
                return []
            return sorted(p for p in found if "/.tmp-" not in p)

        return self.retrying(f"list {prefix}", op)

    def listdir(self, prefix: str) -> list[str]:
        """The names directly under ``prefix``, sorted; empty when there is none."""

        def op() -> list[str]:
            self.fs.invalidate_cache(prefix)
            try:
                entries = self.fs.ls(prefix, detail=False)
            except FileNotFoundError:
                return []
            return sorted(str(e).rstrip("/").rsplit("/", 1)[-1] for e in entries)

        return self.retrying(f"list {prefix}", op)


def _files(url: str, options: dict[str, Any], attempts: int, backoff: float) -> Files:
    return Files(url, options, attempts=attempts, backoff=backoff)


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
