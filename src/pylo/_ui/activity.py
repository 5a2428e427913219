"""What the pictures of an execution are drawn from, read from the store's JSON objects only:
its manifest, its progress segments (who wrote which flush of which block, and when) and its
workers' outcomes (who gave up, and when). Nothing is unpickled.

Who ran which block comes from the segments themselves, never from a plan: whichever worker
took a block at run time wrote its segments.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import time
from collections.abc import Iterable
from typing import Any

from ..store import Segment, Store
from .charts import Activity, Span, standalone, throughput_svg, timeline_svg

__all__ = ["Pictures", "activity_of", "read_activity"]


@dataclasses.dataclass(frozen=True)
class Pictures:
    """The pictures of an execution as ``<svg>`` elements for an HTML page (``files()`` gives
    them as SVG documents of their own); a notebook shows them side by side."""

    throughput_svg: str
    timeline_svg: str

    @classmethod
    def of(cls, activity: Activity) -> Pictures:
        return cls(throughput_svg(activity), timeline_svg(activity))

    def files(self) -> dict[str, str]:
        """File name -> SVG document: ``throughput.svg``, ``timeline.svg``."""
        return {"throughput.svg": standalone(self.throughput_svg), "timeline.svg": standalone(self.timeline_svg)}

    def _repr_html_(self) -> str:
        from .html import pictures_html

        return pictures_html(self.throughput_svg, self.timeline_svg)


def read_activity(store: Store, eid: str, *, running: bool, now: float | None = None) -> Activity:
    """The ``Activity`` of ``eid`` as its store holds it now. ``running``: whether it still runs
    (the pictures then reach up to ``now``)."""
    manifest = store.read_manifest(eid)
    segments = [seg for found in store.read_segments(manifest).values() for seg in found]
    return activity_of(manifest.n_inputs, manifest.created, segments, store.read_workers(eid),
                       running=running, now=time.time() if now is None else now)


def activity_of(total: int, created: str, segments: Iterable[Segment], workers: dict[int, dict[str, Any]], *,
                running: bool, now: float) -> Activity:
    """The ``Activity`` these objects describe (pure: the store's objects as read)."""
    spans, undated = [], 0
    for seg in segments:
        if seg.end is None:
            undated += 1  # written before segments carried times
            continue
        finished = sum(b - a for a, b in seg.finished)
        start = seg.end if seg.start is None or seg.start > seg.end else seg.start
        worker = "?" if seg.worker is None else str(seg.worker)
        spans.append(Span(worker, seg.block, start, seg.end, finished, len(seg.failed)))
    spans.sort(key=lambda s: (s.start, s.worker))
    gave_up = tuple(sorted((str(w), t) for w, o in workers.items() if o.get("gave_up") and (t := _epoch(o.get("ended")))))
    started = _epoch(created) or min((s.start for s in spans), default=now)
    return Activity(total=total, started=started, now=now, running=running, spans=tuple(spans), gave_up=gave_up,
                    undated=undated)


def _epoch(iso: object) -> float | None:
    """Seconds since the epoch of an ISO time the store holds, or ``None`` when it is not one."""
    if not isinstance(iso, str):
        return None
    try:
        t = _dt.datetime.fromisoformat(iso)
    except ValueError:
        return None
    return (t if t.tzinfo is not None else t.replace(tzinfo=_dt.timezone.utc)).timestamp()
