"""Execution ids are strict and validated before any path is built."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from pylo import InvalidArgument
from pylo.store._layout import Layout, new_execution_id, validate_execution_id


def test_new_ids_validate_and_sort_by_creation() -> None:
    start = datetime.datetime(2026, 1, 31, 23, 59, 59, 999990, tzinfo=datetime.timezone.utc)
    times = [start + datetime.timedelta(microseconds=7 * i) for i in range(50)]
    ids = [new_execution_id(t) for t in reversed(times)]
    assert all(validate_execution_id(i) == i for i in ids)
    assert sorted(ids) == ids[::-1]
    assert len({new_execution_id(start) for _ in range(20)}) == 20  # same instant, distinct ids


@pytest.mark.parametrize(
    "bad",
    ["", "..", "../x", "a/b", "/etc/passwd", "20261125T162126123456Z-1a2b3c4d/..", "20261125T162126123456Z-1A2B3C4D",
     "20261125T162126123456Z-1a2b3c4d\n", None, 42],
)
def test_bad_ids_are_refused(bad: Any) -> None:
    with pytest.raises(InvalidArgument):
        validate_execution_id(bad)
    with pytest.raises(InvalidArgument):
        Layout("/root").manifest(bad)


def test_paths() -> None:
    layout = Layout("s3://b/p/")
    eid = "20261125T162126123456Z-1a2b3c4d"
    assert layout.manifest(eid) == f"s3://b/p/{eid}/execution.json"
    assert layout.inputs(eid, 7) == f"s3://b/p/{eid}/inputs/000007"
    assert layout.segment_name(3, "0123456789ab") == "000003-0123456789ab"
    with pytest.raises(InvalidArgument):
        layout.segment_name(3, "../../x")
