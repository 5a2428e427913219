"""What the marker of the input that was running at a death says to the rerun: a table."""

from __future__ import annotations

import pytest

from pylo._core.deaths import Running, Verdict, verdict


@pytest.mark.parametrize(
    ("marker", "block", "concluded", "limit", "expected"),
    [
        (None, 1, (), 2, None),  # the first run names no input
        (Running(1, 15, deaths=0), 1, (), 2, Verdict(15, 1, failed=False)),  # one death: run it again
        (Running(1, 15, deaths=1), 1, (), 2, Verdict(15, 2, failed=True)),  # two: recorded failed
        (Running(1, 15, deaths=0), 1, (), 1, Verdict(15, 1, failed=True)),  # max_input_deaths=1
        (Running(1, 15, deaths=2), 1, (), 4, Verdict(15, 3, failed=False)),
        (Running(0, 5, deaths=1), 1, (), 2, None),  # another block's: it concluded, the death came later
        (Running(1, 15, deaths=1), 1, (15,), 2, None),  # the input concluded: it did not die there
    ],
)
def test_verdict(marker: Running | None, block: int, concluded: tuple[int, ...], limit: int,
                 expected: Verdict | None) -> None:
    assert verdict(marker, block, concluded, limit) == expected


def test_a_marker_round_trips_through_json() -> None:
    marker = Running(3, 40, deaths=1, pid=7, address="tcp://h:1", memory=None)
    assert Running.from_json({"block": 3, "position": 40, "deaths": 1, "pid": 7, "address": "tcp://h:1",
                              "memory": None}) == marker


@pytest.mark.parametrize("bad", [0, -1, True, 2.0])
def test_max_input_deaths_must_be_a_positive_int(bad: object) -> None:
    from pylo._core.config import Config
    from pylo.errors import InvalidArgument

    with pytest.raises(InvalidArgument, match="max_input_deaths"):
        Config(max_input_deaths=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["distributed.nanny - INFO - Worker process 42 exited with status 1"], 1),
        (["distributed.nanny - INFO - Worker process 42 was killed by signal 9"], -9),
        (["Worker process 7 exited with status 3", "Worker process 42 was killed by signal 15"], -15),
        (["Worker process 420 exited with status 1"], None),  # another process
        (["Worker process 42 was killed by unknown signal"], None),
        ([], None),
    ],
)
def test_exit_code_in_a_nannys_log(lines: list[str], expected: int | None) -> None:
    from pylo._core.deaths import exit_code_in

    assert exit_code_in(lines, 42) == expected
