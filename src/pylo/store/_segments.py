"""Progress segments: what one flush of one block recorded, and how segments merge into state.

A segment lists the positions that finished since the previous flush (as half-open ranges), the
positions that failed for good with their attempt counts, and the finished positions that needed
more than one attempt. Segments are immutable; the state of a block is the union of its segments,
so merging is idempotent and independent of their order: ``finished`` wins over ``failed``.
"""

from __future__ import annotations

import bisect
import dataclasses
import json
from collections.abc import Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from typing import Any, TypeVar

from ..errors import CorruptSnapshot, IncompatibleSnapshot
from ._layout import FORMAT_VERSION

__all__ = ["BlockState", "Positions", "Segment", "decode_segment", "encode_segment", "merge", "to_ranges"]


@dataclasses.dataclass(frozen=True)
class Segment:
    """What one flush of one block recorded. ``worker``, ``start`` and ``end`` say who ran the
    attempts it covers and when (seconds since the epoch, the writer's clock): they feed the
    pictures of an execution, never its state, and segments written before they existed have
    none (``None``)."""

    block: int
    finished: tuple[tuple[int, int], ...] = ()
    failed: tuple[tuple[int, int], ...] = ()
    retried: tuple[tuple[int, int], ...] = ()
    worker: int | str | None = None
    start: float | None = None
    end: float | None = None

    def positions(self) -> Iterable[int]:
        for start, stop in self.finished:
            yield from range(start, stop)

    def restricted(self, positions: range) -> Segment:
        """What this segment says of ``positions`` only (a block of the pack it covers)."""
        lo, hi = positions.start, positions.stop
        return dataclasses.replace(
            self,
            finished=tuple((max(a, lo), min(b, hi)) for a, b in self.finished if a < hi and b > lo),
            failed=tuple(e for e in self.failed if lo <= e[0] < hi),
            retried=tuple(e for e in self.retried if lo <= e[0] < hi),
        )


_T = TypeVar("_T")


class Positions(AbstractSet[int]):
    """A set of positions held as sorted, disjoint half-open ranges: what a block's segments
    say finished takes a few ranges, not a set entry (~80 bytes) per input, so the summary of
    10^7 inputs fits in a few megabytes. Read-only; combining it with a set gives a plain set."""

    __slots__ = ("_starts", "_stops", "_len")

    def __init__(self, ranges: Iterable[tuple[int, int]] = ()) -> None:
        starts: list[int] = []
        stops: list[int] = []
        for a, b in sorted(r for r in ranges if r[0] < r[1]):
            if stops and a <= stops[-1]:
                stops[-1] = max(stops[-1], b)
            else:
                starts.append(a)
                stops.append(b)
        self._starts, self._stops = starts, stops
        self._len = sum(b - a for a, b in zip(starts, stops))

    def __contains__(self, position: object) -> bool:
        if not isinstance(position, int):
            return False
        i = bisect.bisect_right(self._starts, position) - 1
        return i >= 0 and position < self._stops[i]

    def __iter__(self) -> Iterator[int]:
        for a, b in zip(self._starts, self._stops):
            yield from range(a, b)

    def __len__(self) -> int:
        return self._len

    def __repr__(self) -> str:
        return f"Positions({list(zip(self._starts, self._stops))!r})"

    @classmethod
    def _from_iterable(cls, values: Iterable[_T]) -> AbstractSet[_T]:  # what ``|``, ``&``, ``-`` return
        return set(values)


@dataclasses.dataclass
class BlockState:
    """The merged state of one block: positions finished, failed (with attempts), and the cost."""

    finished: Positions = dataclasses.field(default_factory=Positions)
    failed: dict[int, int] = dataclasses.field(default_factory=dict)
    failed_attempts: int = 0

    def concluded(self, position: int) -> bool:
        return position in self.finished or position in self.failed


def to_ranges(positions: Sequence[int]) -> list[tuple[int, int]]:
    """Half-open ranges covering increasing ``positions``: [3, 4, 5, 9] -> [(3, 6), (9, 10)]."""
    ranges: list[tuple[int, int]] = []
    if not positions:
        return ranges
    if positions[-1] - positions[0] == len(positions) - 1:  # the usual case: no gap at all
        return [(positions[0], positions[-1] + 1)]
    start = prev = positions[0]
    for p in positions[1:]:
        if p != prev + 1:
            ranges.append((start, prev + 1))
            start = p
        prev = p
    ranges.append((start, prev + 1))
    return ranges


def merge(segments: Iterable[Segment]) -> BlockState:
    """The state a set of segments describes; any order, any duplicates removed by the caller."""
    state = BlockState()
    failed_sum: dict[int, int] = {}
    finished: list[tuple[int, int]] = []
    for seg in segments:
        finished.extend(seg.finished)
        for pos, attempts in seg.failed:
            failed_sum[pos] = failed_sum.get(pos, 0) + attempts
            state.failed_attempts += attempts
        for _pos, attempts in seg.retried:
            state.failed_attempts += attempts - 1
    state.finished = Positions(finished)
    state.failed = {p: a for p, a in failed_sum.items() if p not in state.finished}
    return state


def encode_segment(seg: Segment) -> bytes:
    body: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "block": seg.block,
        "finished": seg.finished,
        "failed": seg.failed,
        "retried": seg.retried,
    }
    # Optional fields, left out when unknown: a reader that predates them ignores them.
    body.update({k: v for k, v in (("worker", seg.worker), ("start", seg.start), ("end", seg.end)) if v is not None})
    return json.dumps(body, separators=(",", ":")).encode()


def decode_segment(data: bytes, path: str, bounds: range | None = None) -> Segment:
    """Parse a segment, refusing anything malformed: a damaged segment never finishes an input."""
    obj = _load_json(data, path)
    check_version(obj, path)
    try:
        seg = Segment(
            block=_int(obj["block"]),
            finished=tuple((_int(a), _int(b)) for a, b in obj["finished"]),
            failed=tuple((_int(p), _int(n)) for p, n in obj["failed"]),
            retried=tuple((_int(p), _int(n)) for p, n in obj["retried"]),
            worker=_worker(obj.get("worker")),
            start=_time(obj.get("start")),
            end=_time(obj.get("end")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptSnapshot(f"corrupt progress segment {path}: {exc!r}", path) from exc
    if bounds is not None:
        _check_bounds(seg, bounds, path)
    return seg


def _check_bounds(seg: Segment, bounds: range, path: str) -> None:
    lo, hi = bounds.start, bounds.stop
    bad = [r for r in seg.finished if not (lo <= r[0] < r[1] <= hi)]
    bad += [p for p in seg.failed + seg.retried if not (lo <= p[0] < hi and p[1] >= 1)]
    if bad:
        raise CorruptSnapshot(f"corrupt progress segment {path}: out of block range {bad[:3]}", path)


def _load_json(data: bytes, path: str) -> Any:
    try:
        obj = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptSnapshot(f"corrupt object {path}: not valid JSON ({exc})", path) from exc
    except RecursionError:  # e.g. 200 KB of "[": pylo's objects nest four levels at most
        raise CorruptSnapshot(f"corrupt object {path}: JSON nested too deeply", path) from None
    if not isinstance(obj, dict):
        raise CorruptSnapshot(f"corrupt object {path}: expected a JSON object", path)
    return obj


def check_version(obj: dict[str, Any], path: str, versions: tuple[int, ...] = (FORMAT_VERSION,)) -> int:
    """The object's format version, if it is one of ``versions`` this pylo reads."""
    version = obj.get("format")
    if isinstance(version, bool) or version not in versions:
        if isinstance(version, int) and not isinstance(version, bool):
            known = " and ".join(str(v) for v in versions)
            raise IncompatibleSnapshot(
                f"{path} has store format version {version}; this pylo reads version {known}",
                path,
            )
        raise CorruptSnapshot(f"corrupt object {path}: no valid format version", path)
    assert isinstance(version, int)
    return version


def refuse_unknown_version(obj: object, what: str) -> None:
    """Raise ``IncompatibleSnapshot`` when ``obj`` declares a format version this pylo does not
    read. For objects whose unreadable form has a rule of its own (a claim or lease that cannot
    be read holds nothing): a *newer* one must not be mistaken for garbage and ignored."""
    if isinstance(obj, dict):
        version = obj.get("format")
        if isinstance(version, int) and not isinstance(version, bool) and version != FORMAT_VERSION:
            check_version(obj, what)


def _worker(value: object) -> int | str | None:
    """Who wrote a segment, when it says so in a form this pylo reads (it only labels pictures:
    anything else is left out rather than refused)."""
    if isinstance(value, str) and len(value) <= 200:
        return value
    return value if type(value) is int else None


def _time(value: object) -> float | None:
    """A segment's time in seconds since the epoch, when it has a plausible one (see ``_worker``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1e11:
        return None
    return float(value)


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an int, got {value!r}")
    return value
