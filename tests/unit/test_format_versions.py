"""Objects of an unknown format version are refused with ``IncompatibleSnapshot``, whatever the
object: a newer pylo may have written it, and guessing at its meaning could run an input twice or
lose one. An object that is merely unreadable keeps its own rule (a claim or lease that cannot be
read holds nothing)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import tasks
from pylo import Pylo
from pylo.errors import IncompatibleSnapshot
from pylo.store._claims import Holder
from pylo.store._leases import Lease


def _newer(data: bytes) -> bytes:
    return json.dumps({**json.loads(data), "format": 99}).encode()


def test_a_claim_object_of_an_unknown_format_is_refused() -> None:
    from pylo.store._claims import new_holder

    with pytest.raises(IncompatibleSnapshot, match="version 99"):
        Holder.from_json(_newer(new_holder().to_json()))


def test_a_lease_of_an_unknown_format_is_refused() -> None:
    with pytest.raises(IncompatibleSnapshot, match="version 99"):
        Lease.from_json(_newer(Lease.now("worker-0000", "w", 2.0).to_json()))


@pytest.mark.parametrize("data", [b"\x00garbage", b'{"format": 1}', b'{"format": "1", "name": "x"}'])
def test_an_unreadable_lease_still_proves_nothing(data: bytes) -> None:
    assert Lease.from_json(data) is None


def test_current_claims_and_leases_round_trip() -> None:
    from pylo.store._claims import new_holder

    holder = new_holder()
    lease = Lease.now("worker-0000", "w", 2.0)
    assert Holder.from_json(holder.to_json()) == holder and Lease.from_json(lease.to_json()) == lease


def test_a_resume_refuses_a_parent_whose_worker_outcome_has_an_unknown_format(tmp_path: Path) -> None:
    pylo = Pylo.local_multithread(str(tmp_path / "s"), number_of_workers=1, block_size=2)
    eid = pylo.start_from_scratch(range(4), tasks.always_fail, progress=False)
    path = Path(pylo.store.files.root) / eid / "workers"
    [outcome] = list(path.iterdir())
    outcome.write_bytes(_newer(outcome.read_bytes()))
    with pytest.raises(IncompatibleSnapshot, match="version 99"):
        pylo.start_from_past_execution(eid, tasks.noop, progress=False)
    assert pylo.executions() == [eid]  # refused before anything was planned


def test_a_stop_record_of_an_unknown_format_is_refused_and_verify_reports_it(tmp_path: Path) -> None:
    from pylo.errors import CorruptSnapshot
    from pylo.store._stop_record import read_stop

    pylo = Pylo.local_multithread(str(tmp_path / "s"), number_of_workers=1, block_size=2, max_failures=0)
    eid = pylo.start_from_scratch(range(4), tasks.always_fail, progress=False)
    path = Path(pylo.store.files.root) / eid / "stopped.json"
    assert read_stop(pylo.store, eid) is not None and pylo.verify(eid).ok
    path.write_bytes(_newer(path.read_bytes()))
    with pytest.raises(IncompatibleSnapshot, match="version 99"):
        pylo.summary(eid)
    assert [p.error for p in pylo.verify(eid).problems] == ["IncompatibleSnapshot"]
    path.write_bytes(b'{"format": 1, "kind": "no such kind", "message": "x"}')
    with pytest.raises(CorruptSnapshot, match="not a stop record"):
        pylo.summary(eid)
