"""The web view's guard on what it reads: regular files only, each under a size limit checked
before a byte is read or parsed. A store the user can read may still hold hostile objects (a
100 GB "segment", a FIFO, a symlink out of the store); the view refuses them with
``CorruptSnapshot`` naming the object, and shows the execution that holds it as damaged.

The limit is checked against the sizes of the same listing the store's readers use, kept per
thread (every request reads on one thread of the server's pool), so a batch read costs no extra
request per object on an object store.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable
from typing import Any

from ...errors import CorruptSnapshot, ExecutionNotFound
from ...store import Manifest, Store
from ...store._fs import Files

__all__ = ["DEFAULT_MAX_BYTES", "MAX_INPUTS", "BoundedFiles", "ViewStore"]

DEFAULT_MAX_BYTES = 32 * 2**20
# Summaries hold an execution's positions in memory: past this the view refuses to count it
# rather than let one manifest claim a trillion inputs and exhaust the server.
MAX_INPUTS = 50_000_000


class BoundedFiles(Files):
    """``Files`` that refuses objects that are not regular files or exceed ``max_bytes``."""

    def __init__(self, url: str, storage_options: dict[str, Any] | None, *, max_bytes: int) -> None:
        # Two attempts, not six: a page that waits a minute through an outage helps nobody; the
        # reader reloads, a live page polls again.
        super().__init__(url, storage_options, attempts=2)
        self.max_bytes = max_bytes
        self._listed = threading.local()

    def _check(self, path: str, info: dict[str, Any]) -> None:
        if info.get("islink") or info.get("type") != "file":
            raise CorruptSnapshot(f"unexpected object {path}: not a regular file", path)
        size = info.get("size")
        if not isinstance(size, int) or size > self.max_bytes:
            raise CorruptSnapshot(
                f"object {path} has {size} bytes, over the web view's limit of {self.max_bytes}", path
            )

    def _info(self, path: str) -> dict[str, Any]:
        listed: dict[str, dict[str, Any]] = getattr(self._listed, "infos", {})
        if path in listed:
            return listed[path]
        info: dict[str, Any] = self.retrying(f"stat {path}", lambda: self.fs.info(path))
        return info

    def _refuse_links(self, prefix: str) -> None:
        """Locally, a folder of the store that is a symlink (``progress -> /``) would make a
        listing walk whatever it points at: refused. (The store's own root may be a link.)"""
        if not self.local or not prefix.startswith(self.root + "/"):
            return
        path = self.root
        for part in prefix[len(self.root) + 1 :].split("/"):
            path = f"{path}/{part}"
            if os.path.islink(path):
                raise CorruptSnapshot(f"unexpected object {path}: a symlink, not a folder of the store", path)

    def find(self, prefix: str) -> list[str]:
        return list(self.find_sized(prefix))

    def find_sized(self, prefix: str) -> dict[str, int | None]:
        self._refuse_links(prefix)

        def op() -> dict[str, dict[str, Any]]:
            self.fs.invalidate_cache(prefix)
            try:
                found: dict[str, dict[str, Any]] = self.fs.find(prefix, detail=True)
            except FileNotFoundError:
                return {}
            return {p: i for p, i in found.items() if "/.tmp-" not in p}

        infos = self.retrying(f"list {prefix}", op)
        self._listed.infos = infos
        return {p: infos[p].get("size") for p in sorted(infos)}

    def listdir(self, prefix: str) -> list[str]:
        self._refuse_links(prefix)
        return super().listdir(prefix)

    def get(self, path: str, limit: int | None = None) -> bytes:
        self._check(path, self._info(path))
        data = super().get(path, limit)
        self._check_length(path, data)
        return data

    def get_many(
        self, paths: Iterable[str], limit: int | None = None, sizes: dict[str, int | None] | None = None
    ) -> dict[str, bytes]:
        paths = list(paths)
        for path in paths:
            try:
                self._check(path, self._info(path))
            except FileNotFoundError:
                continue  # removed since the listing (compaction): the readers skip it too
        out = super().get_many(paths, limit, sizes)  # locally through self.get: checked again, from the listing
        for path, data in out.items():
            self._check_length(path, data)
        return out

    def _check_length(self, path: str, data: bytes) -> None:
        if len(data) > self.max_bytes:  # grew between the check and the read
            raise CorruptSnapshot(f"object {path} is over the web view's limit of {self.max_bytes} bytes", path)


class ViewStore(Store):
    """The store as the web view reads it: every object through ``BoundedFiles``, manifests
    checked for sizes a summary can hold, and cached (a manifest is written once and never
    changed, so a live page re-reads only progress)."""

    def __init__(self, url: Any, storage_options: dict[str, Any] | None = None, *,
                 max_bytes: int = DEFAULT_MAX_BYTES, max_inputs: int = MAX_INPUTS) -> None:
        super().__init__(url, storage_options)
        self.files = BoundedFiles(self.files.url, self.files.storage_options, max_bytes=max_bytes)
        self.max_inputs = max_inputs
        self._manifests: dict[str, tuple[Manifest, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def read_manifest(self, eid: str) -> Manifest:
        return self.read_manifest_and_extras(eid)[0]

    def read_manifest_and_extras(self, eid: str) -> tuple[Manifest, dict[str, Any]]:
        """The manifest and the raw JSON fields this pylo does not decode (e.g. a dashboard link
        that newer writers may record)."""
        with self._lock:
            cached = self._manifests.get(eid)
        if cached is not None:
            return cached
        path = self.layout.manifest(eid)
        try:
            data = self.files.get(path)
        except FileNotFoundError:
            raise ExecutionNotFound(f"no execution {eid} in store {self.url}") from None
        manifest = Manifest.decode(data, path)
        self._check_plausible(manifest, path)
        raw = json.loads(data)  # decoded once already: valid JSON, an object
        with self._lock:
            self._manifests[eid] = (manifest, raw)
        return manifest, raw

    def _check_plausible(self, manifest: Manifest, path: str) -> None:
        if manifest.n_inputs > self.max_inputs:
            raise CorruptSnapshot(
                f"{path}: {manifest.n_inputs} inputs, more than the web view counts ({self.max_inputs})", path
            )
        if manifest.workers > max(1024, len(manifest.blocks)) or any(
            not (b.held or 0 <= b.worker < manifest.workers) or b.count < 0 for b in manifest.blocks
        ):
            raise CorruptSnapshot(f"corrupt manifest {path}: workers and blocks do not match", path)
