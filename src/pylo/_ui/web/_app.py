"""The web view's routes: HTML pages and the JSON API over the same data (``_read``).

    GET /                                   executions, newest first (?q= filters)
    GET /executions/{id}                    one execution: chain, live counts, workers, exceptions
    GET /jobs                               the engine's job records
    GET /api/executions[?q=]                the rows of /
    GET /api/executions/{id}                the counts of one execution (what the page polls)
    GET /api/executions/{id}/exceptions     its failed attempts grouped by type
    GET /executions/{id}/pictures           its pictures (SVG in HTML) alone, what the page refreshes
    GET /api/executions/{id}/activity       the pictures' data: throughput and ETA over time, flushes
    GET /api/jobs                           the rows of /jobs

Tornado and Jinja2 come with ``distributed``: no extra dependency, and HTTP parsing stays in a
server that is run in production every day. Store reads block (fsspec), so they run on a small
thread pool and the event loop keeps answering. Only GET and HEAD exist: the view is read-only.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import datetime as _dt
import importlib.metadata
import importlib.resources
import json
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import jinja2
import markupsafe
import tornado.web

from ..._numbers import count
from ...errors import ExecutionNotFound, InvalidArgument, StoreUnreachable
from ...store import validate_execution_id
from ...store._layout import id_matcher
from . import _read
from ._limits import ViewStore

__all__ = ["View", "make_app", "routes"]

T = TypeVar("T")
log = logging.getLogger(__name__)
_STATIC = importlib.resources.files("pylo._ui.web") / "static"
_VERSION = importlib.metadata.version("pylo-dask")

# Scripts, styles and images from this server only: no CDN (the machine may be offline), and
# nothing a store's text could inject runs (every value is escaped by Jinja2 as well).
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


@dataclasses.dataclass(frozen=True, kw_only=True)
class View:
    """What every handler shares: the store, how often pages refresh, and whether to warn that
    the server is reachable beyond this machine."""

    store: ViewStore
    refresh: float = 2.0
    exposed: bool = False
    address: str = ""
    limit: int = 500
    root: str = "/"  # where the pages are mounted: "/" alone, "/pylo/" on a Dask dashboard
    pool: concurrent.futures.ThreadPoolExecutor = dataclasses.field(
        default_factory=lambda: concurrent.futures.ThreadPoolExecutor(4, thread_name_prefix="pylo-web")
    )


def _templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("pylo._ui.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["n"] = count
    env.filters["when"] = _when
    env.filters["breakable"] = _breakable
    env.globals["bar"] = _bar
    return env


def _when(value: str | None, utc: bool = True) -> str:
    """An ISO time as ``2026-12-01 19:07:32 UTC`` (without `` UTC`` when the column says it);
    other text unchanged."""
    if not value:
        return "–"
    try:
        t = _dt.datetime.fromisoformat(value)
    except ValueError:
        return value
    if t.tzinfo is not None:
        t = t.astimezone(_dt.timezone.utc)
    return t.strftime("%Y-%m-%d %H:%M:%S") + (" UTC" if utc and t.tzinfo is not None else "")


def _breakable(name: str) -> markupsafe.Markup:
    """``module.sub:function`` with line-break opportunities after ``:``, ``.`` and ``_``, escaped."""
    escaped = str(markupsafe.escape(name))
    return markupsafe.Markup(escaped.replace(":", ":<wbr>").replace(".", ".<wbr>").replace("_", "_<wbr>"))


def _bar(row: dict[str, Any]) -> dict[str, float]:
    """Widths in percent of the finished / failed / pending parts of a row's bar."""
    total = row.get("total") or 0
    if not total:
        return {"finished": 0.0, "failed": 0.0, "pending": 100.0}
    finished = 100.0 * row["finished"] / total
    failed = 100.0 * row["failed"] / total
    return {"finished": finished, "failed": failed, "pending": max(0.0, 100.0 - finished - failed)}


class _Handler(tornado.web.RequestHandler):
    view: View
    env: jinja2.Environment

    def initialize(self, view: View, env: jinja2.Environment) -> None:
        self.view, self.env = view, env

    def set_default_headers(self) -> None:
        self.set_header("Content-Security-Policy", _CSP)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("Cache-Control", "no-store")

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a blocking store read on the view's pool; an unreachable store is a 503."""
        try:
            return await asyncio.get_running_loop().run_in_executor(self.view.pool, fn, *args)
        except StoreUnreachable as exc:
            log.warning("web view: %s", exc)
            raise tornado.web.HTTPError(503, reason="the store cannot be reached; try again later") from None

    async def read_execution(self, fn: Callable[[ViewStore, str], T], eid: str) -> T:
        """``read`` of the execution ``eid`` (what ``execution_id`` made of the URL): one that is
        gone by now is a 404."""
        try:
            return await self.read(fn, self.view.store, eid)
        except ExecutionNotFound:
            raise tornado.web.HTTPError(404, reason="no such execution in this store") from None

    async def execution_id(self, raw: str) -> str:
        """The id the URL names: a whole id, or a unique prefix of one (or the 8 characters that end
        one), as everywhere else. 400 when it is not (part of) an id or names several, 404 when it
        names none: only the store's strict id pattern ever reaches a path."""
        try:
            if id_matcher(raw) is None:
                return raw
        except InvalidArgument:
            raise tornado.web.HTTPError(400, reason="not a pylo execution id") from None
        try:
            return validate_execution_id(await self.read(self.view.store.resolve, raw))
        except ExecutionNotFound:
            raise tornado.web.HTTPError(404, reason="no such execution in this store") from None
        except InvalidArgument:  # a well-formed part of an id that several ids share
            raise tornado.web.HTTPError(400, reason="several executions match this id: give more of it") from None

    def render_page(self, name: str, **context: Any) -> None:
        page = self.env.get_template(name).render(
            view=self.view, static_url=self.asset_url, store_url=self.view.store.url, **context
        )
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(page)

    def asset_url(self, name: str) -> str:
        return f"{self.view.root}static/{name}?v={_VERSION}"

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        reason = self._reason
        self.render_page("error.html", status=status_code, reason=reason, title=f"{status_code} {reason}")


class _Api(_Handler):
    def send(self, body: Any) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps(body, indent=1))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps({"error": self._reason, "status": status_code}))


def _filtered(rows: list[dict[str, Any]], query: str) -> list[dict[str, Any]]:
    """Rows whose id, parent, task or status contains every word of ``query`` (any case)."""
    words = query.lower().split()
    if not words:
        return rows

    def text(row: dict[str, Any]) -> str:
        return " ".join(str(row.get(k) or "") for k in ("id", "parent", "task", "status")).lower()

    return [r for r in rows if all(w in text(r) for w in words)]


class ExecutionsPage(_Handler):
    async def get(self) -> None:
        query = self.get_query_argument("q", "")
        rows = await self.read(_read.execution_rows, self.view.store, self.view.limit)
        self.render_page("executions.html", title="Executions", rows=_filtered(rows, query), query=query,
                         total=len(rows))


class ExecutionPage(_Handler):
    async def get(self, raw: str) -> None:
        eid = await self.execution_id(raw)
        if eid != raw:  # a shortened id: the page lives at the whole one
            self.redirect(f"{self.view.root}executions/{eid}")
            return
        try:
            detail, groups, lines, drawn = await self.read_execution(_everything, eid)
        except _read.DAMAGE as exc:
            self.render_page("damaged.html", title=f"Execution {eid}", eid=eid, reason=_read.damage_reason(exc))
            return
        self.render_page("execution.html", title=f"Execution {eid}", e=detail, groups=groups, lines=lines, p=drawn)


def _everything(
    store: ViewStore, eid: str
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
    detail = _read.execution_detail(store, eid)
    groups = _read.exception_groups(store, eid)
    return detail, groups, _read.copy_lines(detail, groups), _read.pictures(store, eid)


class PicturesFragment(_Handler):
    """The pictures of one execution as an HTML fragment: the page loads it again while the
    execution runs (one request for both pictures, one read of the segments)."""

    async def get(self, raw: str) -> None:
        eid = await self.execution_id(raw)
        try:
            drawn = await self.read_execution(_read.pictures, eid)
            fragment = self.env.get_template("pictures.html").render(p=drawn)
        except _read.DAMAGE as exc:
            fragment = str(markupsafe.Markup('<p class="note">No pictures: {}</p>').format(_read.damage_reason(exc)))
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(fragment)


class ActivityApi(_Api):
    async def get(self, raw: str) -> None:
        eid = await self.execution_id(raw)
        try:
            drawn = await self.read_execution(_read.pictures, eid)
        except _read.DAMAGE as exc:
            self.send({"id": eid, "damaged": _read.damage_reason(exc)})
            return
        self.send({k: v for k, v in drawn.items() if not k.endswith("_svg")})


class JobsPage(_Handler):
    async def get(self) -> None:
        rows = await self.read(_read.job_rows, self.view.store)
        self.render_page("jobs.html", title="Jobs", rows=rows)


class ExecutionsApi(_Api):
    async def get(self) -> None:
        rows = await self.read(_read.execution_rows, self.view.store, self.view.limit)
        self.send({"store": self.view.store.url, "executions": _filtered(rows, self.get_query_argument("q", ""))})


class ExecutionApi(_Api):
    async def get(self, raw: str) -> None:
        eid = await self.execution_id(raw)
        try:
            detail = await self.read_execution(_read.execution_detail, eid)
        except _read.DAMAGE as exc:
            detail = {"id": eid, "damaged": _read.damage_reason(exc)}
        self.send({**detail, "refresh": self.view.refresh})


class ExceptionsApi(_Api):
    async def get(self, raw: str) -> None:
        eid = await self.execution_id(raw)
        try:
            groups = await self.read_execution(_read.exception_groups, eid)
        except _read.DAMAGE as exc:
            self.send({"id": eid, "damaged": _read.damage_reason(exc), "groups": []})
            return
        self.send({"id": eid, "groups": groups})


class JobsApi(_Api):
    async def get(self) -> None:
        self.send({"store": self.view.store.url, "jobs": await self.read(_read.job_rows, self.view.store)})


class NotFound(_Handler):
    def prepare(self) -> None:
        raise tornado.web.HTTPError(404, reason="no such page")


class ApiNotFound(_Api):
    def prepare(self) -> None:
        raise tornado.web.HTTPError(404, reason="no such endpoint")


def routes(view: View) -> list[tuple[str, type[tornado.web.RequestHandler], dict[str, Any]]]:
    """The view's routes under ``view.root``, for an application of its own or a Dask dashboard."""
    args: dict[str, Any] = {"view": view, "env": _templates()}
    ident, root = r"([^/]+)", view.root
    return [
        (rf"{root}", ExecutionsPage, args),
        (rf"{root}executions/{ident}", ExecutionPage, args),
        (rf"{root}executions/{ident}/pictures", PicturesFragment, args),
        (rf"{root}jobs", JobsPage, args),
        (rf"{root}api/executions", ExecutionsApi, args),
        (rf"{root}api/executions/{ident}", ExecutionApi, args),
        (rf"{root}api/executions/{ident}/exceptions", ExceptionsApi, args),
        (rf"{root}api/executions/{ident}/activity", ActivityApi, args),
        (rf"{root}api/jobs", JobsApi, args),
        (rf"{root}api/.*", ApiNotFound, args),
        (rf"{root}static/(.*)", tornado.web.StaticFileHandler, {"path": str(_STATIC)}),
    ]


def make_app(view: View) -> tornado.web.Application:
    """The tornado application of ``view`` (not yet listening)."""
    return tornado.web.Application(
        routes(view),
        default_handler_class=NotFound,
        default_handler_args={"view": view, "env": _templates()},
        compress_response=True,
    )
