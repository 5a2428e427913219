"""The pictures of an execution, drawn from data alone: throughput and ETA, the per-worker
timeline, and what the store's objects say (no store, no browser)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from pylo._ui.activity import Pictures, activity_of
from pylo._ui.charts import Activity, Span, coalesced, duration, series, standalone, throughput_svg, timeline_svg
from pylo.store import Segment

SVG = "{http://www.w3.org/2000/svg}"


def parsed(svg: str) -> ET.Element:
    assert "http" not in svg  # nothing on the page names another server, not even a namespace
    root = ET.fromstring(standalone(svg))  # well-formed XML, or this raises
    assert root.tag == f"{SVG}svg" and root.get("role") == "img" and root.get("aria-label")
    assert "style=" not in svg  # presentation attributes only: a strict CSP lets them through
    return root


def running(spans: list[Span], *, total: int = 100, now: float = 10.0, gave_up: tuple[tuple[str, float], ...] = ()
            ) -> Activity:
    return Activity(total=total, started=0.0, now=now, running=True, spans=tuple(spans), gave_up=gave_up)


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0 s"), (44.6, "45 s"), (200, "3 min 20 s"), (7500, "2 h 05 min"), (-3, "0 s")]
)
def test_duration(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_rates_follow_the_time_the_attempts_took_and_the_eta_the_recent_rate() -> None:
    # 40 inputs over the first 4 s, nothing for 2 s, then 30 over the last 4 s: 30 remain.
    spans = [Span("0", 0, 0.0, 4.0, 40, 0), Span("1", 1, 6.0, 10.0, 28, 2)]
    points = series(running(spans), buckets=10)
    assert [round(p.rate, 6) for p in points] == [10, 10, 10, 10, 0, 0, 7.5, 7.5, 7.5, 7.5]
    assert points[-1].done == pytest.approx(70)
    assert points[-1].eta == pytest.approx(30 / 7.5)  # the last eighth: one interval here
    assert points[5].eta is None  # nothing concluded lately: unknown, not infinite
    done = series(running([Span("0", 0, 0.0, 10.0, 100, 0)]), buckets=4)
    assert done[-1].eta == 0.0


def test_a_flush_written_in_an_instant_counts_where_it_was_written() -> None:
    points = series(running([Span("0", 0, 7.5, 7.5, 10, 0)]), buckets=4)
    assert [p.done for p in points] == [0, 0, 0, 10]


def test_the_throughput_picture_says_the_rate_and_eta_now() -> None:
    svg = throughput_svg(running([Span("0", 0, 0.0, 10.0, 50, 0)]))
    root = parsed(svg)
    headline = "".join(t.text or "" for t in root.iter(f"{SVG}text") if t.get("data-role") == "headline")
    assert headline == "now 5.0/s, 50 of 100 concluded, ETA 10 s"
    assert len(root.findall(f".//{SVG}polyline")) == 2  # the rate, and the ETA
    ended = Activity(total=50, started=0.0, now=99.0, running=False, spans=(Span("0", 0, 0.0, 10.0, 50, 0),))
    assert "50 inputs concluded in 10 s (5.0/s)" in throughput_svg(ended)


def test_the_timeline_has_a_lane_per_worker_a_bar_per_flush_and_marks_failures_and_gave_ups() -> None:
    spans = [Span("0", 0, 0.0, 2.0, 10, 0), Span("10", 1, 0.5, 3.0, 8, 2), Span("2", 2, 1.0, 4.0, 10, 0),
             Span("0", 3, 2.0, 5.0, 10, 0)]
    root = parsed(timeline_svg(running(spans, gave_up=(("10", 3.0),))))
    flushes = [g for g in root.iter(f"{SVG}g") if g.get("data-role") == "flush"]
    assert [g.get("data-worker") for g in flushes] == ["0", "10", "2", "0"]
    assert [g.get("data-kind") for g in flushes] == ["finished", "failed", "finished", "finished"]
    assert "worker 10, block 1: 8 finished, 2 failed" in (flushes[1].find(f"{SVG}title").text or "")
    lanes = [t.text for t in root.iter(f"{SVG}text") if t.get("text-anchor") == "end"]
    assert lanes[:3] == ["0", "2", "10"]  # 2 before 10
    assert [g.get("data-role") for g in root.iter(f"{SVG}g")].count("gave-up") == 1


def test_text_from_the_store_is_escaped() -> None:
    hostile = '<script>alert(1)</script>"'
    svg = timeline_svg(running([Span(hostile, 0, 0.0, 1.0, 1, 0)], gave_up=((hostile, 1.0),)))
    parsed(svg)
    assert "<script" not in svg


def test_nothing_to_draw_yet_says_so() -> None:
    for draw in (throughput_svg, timeline_svg):
        assert "no flush recorded yet" in draw(running([]))
    undated = Activity(total=5, started=0.0, now=1.0, running=False, undated=3)
    assert "3 flushes were written by an older pylo" in throughput_svg(undated)


def test_activity_from_segments_and_worker_outcomes() -> None:
    segments = [
        Segment(block=0, finished=((0, 8),), failed=((8, 1), (9, 2)), worker=0, start=1_800_000_010.0,
                end=1_800_000_012.0),
        Segment(block=1, finished=((10, 20),), worker="tcp://w:1", start=None, end=1_800_000_013.0),
        Segment(block=1, finished=((20, 21),)),  # an older pylo's: no times
    ]
    workers = {0: {"gave_up": True, "ended": "2027-01-15T08:00:14+00:00"}, 1: {"gave_up": False, "ended": "x"}}
    activity = activity_of(30, "2027-01-15T08:00:00.000+00:00", segments, workers, running=False, now=0.0)
    assert activity.started == 1_800_000_000.0
    assert activity.spans == (Span("0", 0, 1_800_000_010.0, 1_800_000_012.0, 8, 2),
                              Span("tcp://w:1", 1, 1_800_000_013.0, 1_800_000_013.0, 10, 0))
    assert activity.gave_up == (("0", 1_800_000_014.0),) and activity.undated == 1
    assert activity.done == 20 and activity.until == 1_800_000_013.0
    pictures = Pictures.of(activity)
    assert pictures.timeline_svg in pictures._repr_html_()
    assert all(ET.fromstring(doc).tag == f"{SVG}svg" for doc in pictures.files().values())


def test_thousands_of_flushes_stay_a_picture_of_a_few_hundred_bars_a_worker() -> None:
    spans = [Span(str(w), i, i * 0.01, i * 0.01 + 0.008, 10, i % 100 == 0) for w in range(2) for i in range(10_000)]
    svg = timeline_svg(Activity(total=200_000, started=0.0, now=100.0, running=False, spans=tuple(spans)))
    assert svg.count('data-role="flush"') <= 2 * 200 and len(svg) < 200_000
    assert svg.count('data-kind="failed"') >= 2  # a merged bar keeps its failures
    merged = coalesced(spans, 1.0)
    assert sum(s.finished + s.failed for s in merged) == sum(s.finished + s.failed for s in spans)
    assert coalesced(spans[:3], 0.001) == spans[:3]  # apart enough: drawn one by one
