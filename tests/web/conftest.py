"""A real web view on 127.0.0.1 per test, raw HTTP requests to it, and Debian's chromium."""

from __future__ import annotations

import http.client
import json
import os
import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pylo._ui.web import WebServer, web_server


class Served:
    """A started web view and a raw HTTP client for it (paths are sent exactly as given)."""

    def __init__(self, server: WebServer) -> None:
        self.server = server
        self.url = server.url

    def get(self, path: str) -> tuple[int, bytes, dict[str, str]]:
        conn = http.client.HTTPConnection("127.0.0.1", int(self.url.rsplit(":", 1)[1]), timeout=120)
        try:
            conn.request("GET", path)
            reply = conn.getresponse()
            return reply.status, reply.read(), {k.lower(): v for k, v in reply.getheaders()}
        finally:
            conn.close()

    def json(self, path: str) -> Any:
        status, body, headers = self.get(path)
        assert status == 200, (path, status, body[:500])
        assert headers["content-type"].startswith("application/json")
        return json.loads(body)


@pytest.fixture
def serve() -> Iterator[Callable[..., Served]]:
    """``serve(url, options, **kwargs)``: a web view of that store, stopped after the test."""
    started: list[WebServer] = []

    def start(url: Any, options: dict[str, Any] | None = None, **kwargs: Any) -> Served:
        server = web_server(str(url), options, **kwargs).start()
        started.append(server)
        return Served(server)

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium (``tests/web/install-browser`` installs it; ``make test`` runs that).
    Missing: the test skips, except in CI (``CI=true``), where a browser test that cannot run
    must fail rather than pass unseen."""
    for name in (os.environ.get("PYLO_CHROMIUM"), "chromium", "chromium-browser"):
        path = name and shutil.which(name)
        if path:
            return path
    message = "no chromium on PATH: run tests/web/install-browser (as root) or set PYLO_CHROMIUM"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)
