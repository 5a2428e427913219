"""``pylo serve``: a read-only web view of a store's executions and engine jobs, with the same
data as a JSON API. It reads JSON objects only (never unpickles), each under a size limit.

    ViewStore (bounded, read-only reads) ─► _read (JSON-ready dicts) ─► _app (pages, /api/…)
                                                                        ─► _server (tornado)
"""

from __future__ import annotations

from typing import Any

from ._app import View, make_app
from ._limits import DEFAULT_MAX_BYTES, ViewStore
from ._server import WebServer, bind, is_loopback, url_of

__all__ = ["DEFAULT_MAX_BYTES", "View", "ViewStore", "WebServer", "is_loopback", "make_app", "web_server"]


def web_server(url: str, storage_options: dict[str, Any] | None = None, *, host: str = "127.0.0.1",
               port: int = 0, refresh: float = 2.0, max_bytes: int = DEFAULT_MAX_BYTES) -> WebServer:
    """A (not yet started) web view of the store at ``url``."""
    store = ViewStore(url, storage_options, max_bytes=max_bytes)
    sockets = bind(host, port)
    address = url_of(host, sockets)
    view = View(store=store, refresh=refresh, exposed=not is_loopback(host), address=address)
    return WebServer(view, host, sockets)
