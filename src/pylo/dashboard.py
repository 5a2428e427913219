"""The web view of ``pylo serve`` as pages of a Dask scheduler's own dashboard, under ``/pylo/``,
so a cluster's dashboard links to the executions it runs.

Name this module in the scheduler's http routes and the store in the Dask config, e.g. in
``~/.config/dask/pylo.yaml`` on the scheduler's machine::

    distributed:
      scheduler:
        http:
          routes: [distributed.http.scheduler.prometheus, distributed.http.scheduler.info,
                   distributed.http.scheduler.json, distributed.http.health,
                   distributed.http.proxy, distributed.http.statics, pylo.dashboard]
    pylo:
      web:
        store: s3://bucket/runs
        storage-options: {}

then open ``http://SCHEDULER:8787/pylo/``. Without ``pylo.web.store`` the view shows the store
the executions use, ``pylo.store`` (and ``pylo.storage-options``): see ``pylo._core.dask_config``. The scheduler imports this module once, when its
dashboard starts; the store is opened then. Reads are the same as ``pylo serve``: JSON only,
bounded, read-only. The dashboard has no authentication either: whoever reaches it reads the store.
"""

from __future__ import annotations

import logging
from typing import Any

import dask.config
import tornado.web

from ._ui.web._app import View, routes as _routes
from ._ui.web._limits import ViewStore
from .errors import PyloError

__all__ = ["routes"]

log = logging.getLogger(__name__)

ROOT = "/pylo/"


class _NotConfigured(tornado.web.RequestHandler):
    def initialize(self, reason: str) -> None:
        self.reason = reason

    def get(self, *_args: str) -> None:
        self.set_status(503)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(f"pylo web view: {self.reason}\n")


def _build() -> list[tuple[str, Any, dict[str, Any]]]:
    web = bool(dask.config.get("pylo.web.store", None))
    section = "pylo.web" if web else "pylo"  # the executions' own store when the view names none
    url = dask.config.get(f"{section}.store", None)
    if not url:
        reason = "no store configured: set pylo.web.store (or pylo.store) in the Dask config of the scheduler"
        return [(rf"{ROOT}(.*)", _NotConfigured, {"reason": reason})]
    options = dict(dask.config.get(f"{section}.storage-options", None) or {})
    try:
        store = ViewStore(url, options)
    except PyloError as exc:  # a bad URL, an unreachable store: the dashboard starts all the same
        log.error("pylo web view: cannot open the store %s: %s", url, exc)
        return [(rf"{ROOT}(.*)", _NotConfigured, {"reason": f"cannot open the store {url}: {exc}"})]
    refresh = float(dask.config.get("pylo.web.refresh", 2.0))
    # exposed: a dashboard is reachable wherever the scheduler listens, so the pages warn.
    view = View(store=store, refresh=refresh, exposed=True, address="this Dask dashboard", root=ROOT)
    return [(pattern, handler, kwargs) for pattern, handler, kwargs in _routes(view)]


routes = _build()
