"""Segments: encoding, validation, and merging in any order (property tests)."""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pylo.errors import CorruptSnapshot, IncompatibleSnapshot
from pylo.store._segments import Segment, decode_segment, encode_segment, merge, to_ranges


@pytest.mark.parametrize(
    ("positions", "ranges"),
    [([], []), ([4], [(4, 5)]), ([3, 4, 5, 9], [(3, 6), (9, 10)]), ([0, 2, 4], [(0, 1), (2, 3), (4, 5)])],
)
def test_to_ranges(positions: list[int], ranges: list[tuple[int, int]]) -> None:
    assert to_ranges(positions) == ranges


def test_round_trip() -> None:
    seg = Segment(block=2, finished=((20, 25),), failed=((26, 3),), retried=((21, 2),))
    assert decode_segment(encode_segment(seg), "p", range(20, 30)) == seg


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00\xff garbage",
        b"[1, 2]",
        b'{"format": 1}',
        b'{"format": 1, "block": 0, "finished": [[0, "x"]], "failed": [], "retried": []}',
        b'{"format": 1, "block": 0, "finished": [[0, 99]], "failed": [], "retried": []}',  # out of block
        b'{"format": 1, "block": 0, "finished": [], "failed": [[3, 0]], "retried": []}',  # 0 attempts
        b'{"block": 0, "finished": [], "failed": [], "retried": []}',
    ],
)
def test_damaged_segments_are_refused(data: bytes) -> None:
    with pytest.raises(CorruptSnapshot, match="seg/path"):
        decode_segment(data, "seg/path", range(0, 10))


def test_unknown_version_is_incompatible() -> None:
    data = json.dumps({"format": 99, "block": 0, "finished": [], "failed": [], "retried": []}).encode()
    with pytest.raises(IncompatibleSnapshot, match="version 99"):
        decode_segment(data, "seg/path")


# A block of 12 positions; a run is a sequence of flushes, each concluding some positions.
outcomes = st.lists(st.tuples(st.integers(0, 11), st.sampled_from(["finished", "failed"]), st.integers(1, 4)))


def _segments(events: list[tuple[int, str, int]], per_segment: int) -> list[Segment]:
    segs = []
    for i in range(0, len(events), per_segment):
        chunk = events[i : i + per_segment]
        fin = sorted({p for p, kind, _ in chunk if kind == "finished"})
        segs.append(
            Segment(
                block=0,
                finished=tuple(to_ranges(fin)),
                failed=tuple((p, n) for p, kind, n in chunk if kind == "failed"),
                retried=tuple((p, n) for p, kind, n in chunk if kind == "finished" and n > 1),
            )
        )
    return segs


@settings(max_examples=200, deadline=None)
@given(outcomes, st.integers(1, 5), st.randoms(use_true_random=False))
def test_merge_is_order_independent_and_partitions_positions(
    events: list[tuple[int, str, int]], per_segment: int, rnd: object
) -> None:
    segs = _segments(events, per_segment)
    state = merge(segs)
    shuffled = list(segs)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    again = merge(shuffled)
    assert (again.finished, again.failed, again.failed_attempts) == (state.finished, state.failed, state.failed_attempts)
    # A position is never both finished and failed (pending is whatever is neither).
    assert not state.finished & state.failed.keys()
    assert set(state.failed) == {p for p, kind, _ in events if kind == "failed"} - state.finished
    # finished wins: a position finished by any segment is finished.
    assert state.finished == {p for p, kind, _ in events if kind == "finished"}


def test_merge_of_duplicated_segments_keeps_sets() -> None:
    seg = Segment(block=0, finished=((0, 3),), failed=((4, 2),))
    state = merge(itertools.repeat(seg, 3))
    assert state.finished == {0, 1, 2} and set(state.failed) == {4}


def test_positions_behave_as_a_set_of_their_ranges() -> None:
    from pylo.store import Positions

    pos = Positions([(5, 8), (0, 2), (7, 10), (12, 12), (1, 3)])  # overlapping, unsorted, one empty
    assert list(pos) == [0, 1, 2, 5, 6, 7, 8, 9] and len(pos) == 8
    assert pos == {0, 1, 2, 5, 6, 7, 8, 9} and {0, 5} <= pos and not {3} <= pos
    assert [p for p in range(-1, 12) if p in pos] == list(pos) and "1" not in pos
    assert pos | {3} == {0, 1, 2, 3, 5, 6, 7, 8, 9} and isinstance(pos | {3}, set)
    assert pos & {2, 3} == {2} and not Positions() and Positions([(4, 6)]) == Positions([(4, 5), (5, 6)])


def test_a_block_state_holds_ranges_not_an_entry_per_input() -> None:
    # A summary of 10^7 inputs read every block's state at once: as sets, ~80 bytes per input.
    import tracemalloc

    segments = [Segment(block=0, finished=((i, i + 1000),)) for i in range(0, 200_000, 1000)]
    tracemalloc.start()
    try:
        state = merge(segments)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(state.finished) == 200_000 and 199_999 in state.finished
    assert peak < 200_000, peak  # a set of them alone takes ~16 MB


def test_who_and_when_round_trip_and_older_segments_still_read() -> None:
    seg = Segment(block=2, finished=((20, 25),), worker=3, start=1_800_000_000.25, end=1_800_000_001.5)
    assert decode_segment(encode_segment(seg), "p", range(20, 30)) == seg
    old = b'{"format": 1, "block": 2, "finished": [[20, 25]], "failed": [], "retried": []}'
    assert decode_segment(old, "p", range(20, 30)) == Segment(block=2, finished=((20, 25),))
    assert b"worker" not in encode_segment(Segment(block=2))  # unknown: left out, as before


@pytest.mark.parametrize(
    ("extra", "worker", "start", "end"),
    [
        ('"worker": "tcp://10.0.0.5:4000", "start": 5, "end": 6.5', "tcp://10.0.0.5:4000", 5.0, 6.5),
        ('"worker": [1], "start": "noon", "end": true', None, None, None),
        ('"worker": 1.5, "start": -1, "end": 1e300', None, None, None),
    ],
)
def test_who_and_when_that_cannot_be_read_are_left_out(extra: str, worker: object, start: object, end: object) -> None:
    """They only label pictures: a value this pylo cannot read is dropped, and the segment's
    progress still counts."""
    data = b'{"format": 1, "block": 0, "finished": [[0, 2]], "failed": [], "retried": [], ' + extra.encode() + b"}"
    seg = decode_segment(data, "p", range(0, 10))
    assert (seg.worker, seg.start, seg.end, seg.finished) == (worker, start, end, ((0, 2),))
