"""Pictures of an execution as SVG: throughput and ETA over time, and a per-worker timeline.

Pure functions from an ``Activity`` (what the store's progress segments say: who wrote which
flush of which block, and when) to one ``<svg>`` element for an HTML page (``standalone`` makes
it a document of its own). No JavaScript and no charting library:
the web view serves them from clusters that are often offline, and notebooks show them as they
are. Only presentation attributes are used (no ``style``), so a strict Content-Security-Policy
lets them through; every text that came from the store is escaped.
"""

from __future__ import annotations

import dataclasses
import html
import math
from collections.abc import Callable, Iterable, Sequence

__all__ = ["Activity", "Point", "Span", "coalesced", "duration", "series", "standalone", "throughput_svg", "timeline_svg"]

GREEN, RED, GREY, INK, MUTED, BLUE = "#2e9e4f", "#d64545", "#c9ccd1", "#1f2933", "#6b7280", "#2563eb"
_FONT = 'font-family="system-ui,sans-serif" font-size="11"'
WIDTH = 640  # the viewBox width; the pictures scale to their container


@dataclasses.dataclass(frozen=True)
class Span:
    """One flush of one block: its attempts ran on ``worker`` from ``start`` to ``end``."""

    worker: str
    block: int
    start: float
    end: float
    finished: int
    failed: int


@dataclasses.dataclass(frozen=True)
class Activity:
    """What the pictures of one execution are drawn from (times: seconds since the epoch)."""

    total: int  # inputs this execution runs
    started: float  # when it was created
    now: float  # when this was read
    running: bool
    spans: tuple[Span, ...] = ()
    gave_up: tuple[tuple[str, float], ...] = ()  # (worker, when) of the workers that gave up
    undated: int = 0  # flushes an older pylo wrote without times: counted, not drawn

    @property
    def done(self) -> int:
        return sum(s.finished + s.failed for s in self.spans)

    @property
    def until(self) -> float:
        """The right edge of the pictures: now while it runs, else its last flush."""
        last = max((s.end for s in self.spans), default=self.started)
        return max(self.now, last) if self.running else last


@dataclasses.dataclass(frozen=True)
class Point:
    """One interval of the throughput picture: its end, the inputs concluded per second in it,
    how many were concluded by its end, and the time still needed at the recent rate."""

    t: float
    rate: float
    done: float
    eta: float | None


def series(activity: Activity, buckets: int = 48) -> list[Point]:
    """Throughput and ETA over ``buckets`` equal intervals from the start to ``until``. A flush's
    inputs are spread over the time its attempts took; the ETA divides what remains by the mean
    rate of the last eighth of the intervals (``None`` while that rate is zero)."""
    t0, t1 = activity.started, activity.until
    width = max(t1 - t0, 1e-3) / buckets
    counts = [0.0] * buckets
    for span in activity.spans:
        _spread(counts, t0, width, span.start, span.end, span.finished + span.failed)
    window = max(1, buckets // 8)
    points, done = [], 0.0
    for i, count in enumerate(counts):
        done += count
        recent = sum(counts[max(0, i - window + 1) : i + 1]) / (width * min(window, i + 1))
        remaining = max(0.0, activity.total - done)
        eta = 0.0 if remaining < 0.5 else (remaining / recent if recent > 0 else None)
        points.append(Point(t0 + (i + 1) * width, count / width, done, eta))
    return points


def _spread(counts: list[float], t0: float, width: float, start: float, end: float, n: int) -> None:
    """Add ``n`` to the intervals that [start, end] overlaps, in proportion to the overlap."""
    last = len(counts) - 1
    if end - start <= 0:
        counts[min(last, max(0, int((end - t0) / width)))] += n
        return
    first_i, last_i = max(0, int((start - t0) / width)), min(last, max(0, int((end - t0) / width)))
    for i in range(first_i, last_i + 1):
        lo, hi = max(start, t0 + i * width), min(end, t0 + (i + 1) * width)
        if i == last_i:
            hi = max(hi, end)  # whatever ran past the right edge lands in the last interval
        counts[i] += n * max(0.0, hi - lo) / (end - start)


def duration(seconds: float) -> str:
    """``45 s``, ``3 min 20 s``, ``2 h 05 min``."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


# -- throughput and ETA -------------------------------------------------------------------------


_PLOT_LEFT, _PLOT_RIGHT = 64, WIDTH - 12


def throughput_svg(activity: Activity) -> str:
    """Two panels over the same time axis: inputs concluded per second, and the ETA."""
    if not activity.spans:
        return _empty("Throughput and ETA", _nothing_yet(activity))
    points = series(activity)
    now = points[-1]
    rate_now = f"{_number(now.rate)}/s"
    if activity.running:
        eta_text = "unknown (no input concluded lately)" if now.eta is None else duration(now.eta)
        headline = f"now {rate_now}, {round(now.done):,} of {activity.total:,} concluded, ETA {eta_text}"
    else:
        took = activity.until - activity.started
        headline = f"{activity.done:,} inputs concluded in {duration(took)} ({_number(activity.done / max(took, 1e-3))}/s)"
    rate_panel = _panel(points, [p.rate for p in points], top=34, height=78, color=GREEN,
                        label="inputs/s", fmt=_number)
    etas = [p.eta for p in points]
    eta_panel = _panel(points, etas, top=140, height=58, color=BLUE, label="ETA", fmt=duration)
    height = 232
    return (
        _open(height, f"Throughput and ETA: {headline}")
        + f'<text x="{_PLOT_LEFT}" y="14" {_FONT} font-weight="600" fill="{INK}">Throughput and ETA</text>'
        + f'<text x="{_PLOT_LEFT}" y="27" {_FONT} fill="{MUTED}" data-role="headline">{_e(headline)}</text>'
        + rate_panel + eta_panel + _time_axis(activity, y=height - 16) + _note(activity, height - 2) + "</svg>"
    )


def _panel(points: Sequence[Point], values: Sequence[float | None], *, top: int, height: int, color: str,
           label: str, fmt: Callable[[float], str]) -> str:
    known = [v for v in values if v is not None]
    peak = max(known, default=0.0) or 1.0
    bottom = top + height
    t0 = points[0].t - (points[1].t - points[0].t if len(points) > 1 else 1.0)
    span = max(points[-1].t - t0, 1e-9)

    def x(t: float) -> float:
        return _PLOT_LEFT + (t - t0) / span * (_PLOT_RIGHT - _PLOT_LEFT)

    def y(v: float) -> float:
        return bottom - v / peak * height

    runs: list[list[str]] = [[]]
    for p, v in zip(points, values):
        if v is None:
            runs.append([])  # a gap where the value is unknown
            continue
        runs[-1].append(f"{x(p.t):.1f},{y(v):.1f}")
    lines = "".join(
        f'<polyline points="{" ".join(r)}" fill="none" stroke="{color}" stroke-width="1.8"/>' for r in runs if r
    )
    return (
        f'<g data-panel="{_e(label)}">'
        f'<line x1="{_PLOT_LEFT}" y1="{bottom}" x2="{_PLOT_RIGHT}" y2="{bottom}" stroke="{GREY}"/>'
        f'<line x1="{_PLOT_LEFT}" y1="{top}" x2="{_PLOT_LEFT}" y2="{bottom}" stroke="{GREY}"/>'
        f'<text x="{_PLOT_LEFT - 6}" y="{top + 8}" {_FONT} fill="{MUTED}" text-anchor="end">{_e(fmt(peak))}</text>'
        f'<text x="{_PLOT_LEFT - 6}" y="{bottom}" {_FONT} fill="{MUTED}" text-anchor="end">0</text>'
        f'<text x="{_PLOT_LEFT - 6}" y="{top + 21}" {_FONT} fill="{MUTED}" text-anchor="end">{_e(label)}</text>'
        f"{lines}</g>"
    )


# -- per-worker timeline ------------------------------------------------------------------------


_LANE = 22


def timeline_svg(activity: Activity) -> str:
    """One lane per worker; a bar per flush of a block (its attempts' time), red where some of
    its inputs failed; a cross where a worker gave up. Hovering a bar names its block."""
    if not activity.spans and not activity.gave_up:
        return _empty("Workers over time", _nothing_yet(activity))
    workers = _lanes(s.worker for s in activity.spans)
    for worker, _ in activity.gave_up:
        if worker not in workers:
            workers.append(worker)
    t0, t1 = activity.started, max(activity.until, activity.started + 1e-3)
    top = 24
    height = top + _LANE * len(workers) + 34

    def x(t: float) -> float:
        return _PLOT_LEFT + (min(max(t, t0), t1) - t0) / (t1 - t0) * (_PLOT_RIGHT - _PLOT_LEFT)

    lane = {w: top + i * _LANE for i, w in enumerate(workers)}
    parts = [
        f'<text x="{_PLOT_LEFT}" y="14" {_FONT} font-weight="600" fill="{INK}">Workers over time</text>'
    ]
    for w, y in lane.items():
        parts.append(f'<text x="{_PLOT_LEFT - 6}" y="{y + 14}" {_FONT} fill="{INK}" text-anchor="end">'
                     f"{_e(_short(w))}</text>")
        parts.append(f'<line x1="{_PLOT_LEFT}" y1="{y + _LANE - 2}" x2="{_PLOT_RIGHT}" y2="{y + _LANE - 2}" '
                     f'stroke="{GREY}" stroke-width="0.5"/>')
    px = (_PLOT_RIGHT - _PLOT_LEFT) / (t1 - t0)
    for s in coalesced(activity.spans, MIN_BAR_SECONDS_PX / px):
        parts.append(_bar(s, x(s.start), x(s.end), lane[s.worker]))
    for worker, when in activity.gave_up:
        cx, cy = x(when), lane[worker] + 9
        parts.append(
            f'<g data-role="gave-up"><title>worker {_e(worker)} gave up at {_e(_clock(when))}</title>'
            f'<path d="M{cx - 5:.1f},{cy - 5} l10,10 m0,-10 l-10,10" stroke="{RED}" stroke-width="2.2"/>'
            f'<text x="{min(cx + 8, _PLOT_RIGHT - 44):.1f}" y="{cy + 4}" {_FONT} fill="{RED}" font-weight="600" '
            f'stroke="#fff" stroke-width="3" paint-order="stroke">gave up</text></g>'
        )
    failed = sum(s.failed for s in activity.spans)
    label = (f"Workers over time: {len(workers)} workers, {len(activity.spans)} flushes, "
             f"{failed:,} failed inputs, {len(activity.gave_up)} gave up")
    return (_open(height, label) + "".join(parts) + _time_axis(activity, y=height - 18)
            + _note(activity, height - 4) + "</svg>")


#: Flushes of one worker closer together than this many pixels are drawn as one bar: an
#: execution of thousands of blocks stays a picture of a few hundred bars a worker.
MIN_BAR_SECONDS_PX = 3.0


def coalesced(spans: Iterable[Span], seconds: float) -> list[Span]:
    """``spans`` where the consecutive flushes of a worker that start less than ``seconds``
    after the bar they follow began are merged into it (counts added; ``block`` is the first's)."""
    out: list[Span] = []
    last: dict[str, int] = {}  # worker -> index in out of its current bar
    for s in sorted(spans, key=lambda s: (s.worker, s.start)):
        i = last.get(s.worker)
        if i is not None and s.start - out[i].start < seconds:
            bar = out[i]
            out[i] = Span(s.worker, bar.block, bar.start, max(bar.end, s.end), bar.finished + s.finished,
                          bar.failed + s.failed)
            continue
        last[s.worker] = len(out)
        out.append(s)
    return sorted(out, key=lambda s: (s.start, s.worker))


def _bar(s: Span, x0: float, x1: float, y: int) -> str:
    width = max(x1 - x0, 1.5)
    title = (f"worker {s.worker}, block {s.block}: {s.finished:,} finished, {s.failed:,} failed, "
             f"{_clock(s.start)}–{_clock(s.end)}")
    concluded = s.finished + s.failed
    red = width * s.failed / concluded if concluded else 0.0
    inner = f'<rect x="{x0:.1f}" y="{y + 3}" width="{width:.1f}" height="{_LANE - 8}" fill="{GREEN}"/>'
    if s.failed:
        inner += (f'<rect x="{x0 + width - red:.1f}" y="{y + 3}" width="{max(red, 1.5):.1f}" height="{_LANE - 8}" '
                  f'fill="{RED}"/>')
    kind = "failed" if s.failed else "finished"
    return f'<g data-role="flush" data-worker="{_e(s.worker)}" data-kind="{kind}"><title>{_e(title)}</title>{inner}</g>'


def _lanes(workers: Iterable[str]) -> list[str]:
    """Worker names in a natural order: 2 before 10."""
    return sorted(set(workers), key=lambda w: (0, int(w), "") if w.isdigit() else (1, 0, w))


# -- shared pieces --------------------------------------------------------------------------------


def standalone(svg: str) -> str:
    """A picture of this module as an SVG document of its own (a ``.svg`` file): the pictures are
    made to sit inside an HTML page, where the SVG namespace is implied."""
    return svg.replace("<svg ", f'<svg xmlns="{_SVG_NS}" ', 1)


_SVG_NS = "http" + "://www.w3.org/2000/svg"  # a name, never fetched


def _open(height: int, label: str) -> str:
    return (f'<svg viewBox="0 0 {WIDTH} {height}" width="100%" '
            f'role="img" aria-label="{_e(label)}" preserveAspectRatio="xMinYMin meet">'
            f"<title>{_e(label)}</title>")


def _time_axis(activity: Activity, y: int) -> str:
    t0, t1 = activity.started, activity.until
    right = "now" if activity.running else f"+{duration(t1 - t0)}"
    return (f'<text x="{_PLOT_LEFT}" y="{y}" {_FONT} fill="{MUTED}">{_e(_clock(t0))} UTC</text>'
            f'<text x="{_PLOT_RIGHT}" y="{y}" {_FONT} fill="{MUTED}" text-anchor="end">{_e(right)}</text>')


def _note(activity: Activity, y: int) -> str:
    if not activity.undated:
        return ""
    return (f'<text x="{_PLOT_LEFT}" y="{y}" {_FONT} fill="{MUTED}">{activity.undated:,} flushes written by an '
            "older pylo carry no times and are not drawn</text>")


def _empty(title: str, why: str) -> str:
    return (_open(44, f"{title}: {why}")
            + f'<text x="{_PLOT_LEFT}" y="14" {_FONT} font-weight="600" fill="{INK}">{_e(title)}</text>'
            + f'<text x="{_PLOT_LEFT}" y="32" {_FONT} fill="{MUTED}">{_e(why)}</text></svg>')


def _nothing_yet(activity: Activity) -> str:
    if activity.undated:
        return f"its {activity.undated:,} flushes were written by an older pylo, without times"
    return "no flush recorded yet" if activity.running else "no flush recorded"


def _number(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}" if value >= 1 else f"{value:.2f}"


def _clock(t: float) -> str:
    import datetime as _dt

    if not math.isfinite(t):
        return "?"
    return _dt.datetime.fromtimestamp(t, _dt.timezone.utc).strftime("%H:%M:%S")


def _short(worker: str, limit: int = 10) -> str:
    return worker if len(worker) <= limit else worker[: limit - 1] + "…"


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)
