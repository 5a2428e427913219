"""Running the web view: bind, serve, stop. Loopback unless the caller names another address.

    WebServer(view).start()  ─► a thread with its own event loop ─► tornado HTTPServer
    .stop()                  ─► the loop stops the server and closes its sockets, then ends

``pylo serve`` runs one in the foreground until Ctrl-C; tests start one per test on port 0.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import threading
from typing import Any

import tornado.httpserver
import tornado.netutil

from ._app import View, make_app

__all__ = ["WebServer", "bind", "is_loopback", "url_of"]

log = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and the loopback addresses; anything else reaches other machines."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> list[socket.socket]:
    """Listening sockets on ``host:port`` (port 0: a free one)."""
    return tornado.netutil.bind_sockets(port, address=host)


def url_of(host: str, sockets: list[socket.socket]) -> str:
    port = sockets[0].getsockname()[1]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class WebServer:
    """The web view of ``view`` on ``sockets`` bound by ``bind``."""

    def __init__(self, view: View, host: str, sockets: list[socket.socket]) -> None:
        self.view, self.host, self._sockets = view, host, sockets
        self.url = url_of(host, sockets)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> WebServer:
        """Serve on a background thread; returns once requests are answered."""
        self._thread = threading.Thread(target=self.run, name="pylo-web", daemon=True)
        self._thread.start()
        self._ready.wait()
        return self

    def run(self) -> None:
        """Serve on this thread until ``stop``."""
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop, self._stopped = asyncio.get_running_loop(), asyncio.Event()
        server = tornado.httpserver.HTTPServer(make_app(self.view), xheaders=False)
        server.add_sockets(self._sockets)
        log.info("pylo web view of %s at %s", self.view.store.url, self.url)
        self._ready.set()
        try:
            await self._stopped.wait()
        finally:
            server.stop()
            await server.close_all_connections()

    def stop(self) -> None:
        """Stop serving and wait for the thread; idempotent."""
        if self._loop is not None and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.view.pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> WebServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
