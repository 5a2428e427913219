"""The results object: a JSON header and one pickle per value; refused when damaged."""

from __future__ import annotations

import pickle
import threading

import pytest

from pylo import CorruptSnapshot, IncompatibleSnapshot, ResultNotSerializable
from pylo.store._results import decode_results, dump_result, encode_results, keeping_results, load_result


def test_round_trip() -> None:
    blobs = [dump_result(v, i) for i, v in enumerate([{"a": 1}, None, b"\n\n", lambda: 3])]
    back = decode_results(encode_results([10, 11, 12, 13], blobs), "p")
    assert list(back) == [10, 11, 12, 13]
    assert [load_result(back[p], p) for p in (10, 11, 12)] == [{"a": 1}, None, b"\n\n"]
    assert load_result(back[13], 13)() == 3  # a lambda goes by value


def test_a_value_that_cannot_be_kept_names_its_input() -> None:
    with pytest.raises(ResultNotSerializable, match=r"the result of input 'in-7' \(lock\)"):
        dump_result(threading.Lock(), "in-7")


def test_keeping_results_appends_only_what_returned() -> None:
    out: list[bytes] = []
    call = keeping_results(lambda x: 1 / x, out)
    assert call(2) == 0.5
    with pytest.raises(ZeroDivisionError):
        call(0)
    assert [pickle.loads(b) for b in out] == [0.5]


@pytest.mark.parametrize(
    "data",
    [b"", b"not json\n", b'{"format": 1}\n', b'{"format": 1, "positions": [1], "sizes": [5]}\nabc',
     b'{"format": 1, "positions": [1, 2], "sizes": [1]}\na', b'[1]\n'],
)
def test_damaged_objects_are_refused(data: bytes) -> None:
    with pytest.raises(CorruptSnapshot):
        decode_results(data, "p")


def test_unknown_version_is_refused() -> None:
    with pytest.raises(IncompatibleSnapshot):
        decode_results(b'{"format": 99, "positions": [], "sizes": []}\n', "p")


def test_a_value_that_no_longer_loads_is_a_clear_error() -> None:
    with pytest.raises(CorruptSnapshot, match="position 4"):
        load_result(b"garbage", 4)
