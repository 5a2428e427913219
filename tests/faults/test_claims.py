"""Two clients resuming (or running) the same execution at once: the claim object in the store
lets exactly one of them in and refuses the other with ``ExecutionClaimed``; a claim whose holder
stopped renewing its lease is taken over, whatever its host; ``force=True`` waits for a live one to end."""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from pathlib import Path
from typing import Any

import pytest

import tasks
from buckets import bucket_spec
from clocks import ManualClock
from _support import kill_group, python, start_gated_client, wait_for
from pylo import Config, ExecutionClaimed, Pylo
from pylo.backends._threads import ThreadBackend
from pylo.store._claiming import STOP_POLL
from pylo.store import Store, new_execution_id
from pylo.store._claims import new_holder

pytestmark = pytest.mark.slow

CLAIMERS = 4


@pytest.fixture(params=["local", "s3", "gcs", "azure"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, dict[str, Any]]:
    return bucket_spec(request, request.param, tmp_path)


def test_of_clients_racing_for_a_claim_exactly_one_wins(store_url: tuple[str, dict[str, Any]], tmp_path: Path) -> None:
    url, options = store_url
    eid = new_execution_id()
    go, done = tmp_path / "go", tmp_path / "done"
    results = [tmp_path / f"result-{i}" for i in range(CLAIMERS)]
    procs = [python("_claimer.py", url, json.dumps(options), eid, str(go), str(r), str(done)) for r in results]
    try:
        go.touch()
        wait_for(lambda: all(r.exists() for r in results), "every claimer to decide")
        outcomes = sorted(r.read_text() for r in results)
        assert outcomes == ["refused"] * (CLAIMERS - 1) + ["won"]
        holder = Store(url, options).claim_holder(eid)
        assert holder is not None and holder.pid in {p.pid for p in procs}
    finally:
        done.touch()
        for proc in procs:
            kill_group(proc)


def test_resuming_an_execution_another_client_runs_is_refused(tmp_path: Path) -> None:
    other = start_gated_client(tmp_path, 40)
    eid = other.eid
    try:
        pylo = Pylo.local_multithread(other.store, number_of_workers=2)
        with pytest.raises(ExecutionClaimed, match=f"process {other.proc.pid} on .* force=True"):
            pylo.resume(eid, tasks.noop)
        other.open_gate()
        assert other.proc.wait(60) == 0
    finally:
        kill_group(other.proc)
    resumed = pylo.start_from_past_execution(eid, tasks.noop, progress=False)  # released: allowed now
    assert pylo.get_state(resumed) == (list(range(40)), [])


def test_two_resumes_of_one_execution_in_one_process_are_refused_while_it_runs(tmp_path: Path) -> None:
    import threading

    release = threading.Event()
    pylo = Pylo.local_multithread(str(tmp_path / "s"), number_of_workers=1)
    first = pylo.start_from_scratch(range(10), tasks.fail_multiples_of_7, progress=False)
    run = pylo.resume(first, functools.partial(_wait_then_noop, release))
    try:
        with pytest.raises(ExecutionClaimed):
            pylo.resume(first, tasks.noop)
    finally:
        release.set()
    run.wait(30)
    assert pylo.get_state(run.id) == (list(range(10)), [])


def _wait_then_noop(release: Any, x: int) -> None:
    release.wait(30)


def test_a_claim_whose_leases_all_expired_is_taken_over_whatever_its_host(tmp_path: Path) -> None:
    pylo = Pylo.local_multithread(str(tmp_path / "s"), number_of_workers=1)
    eid = pylo.start_from_scratch(range(10), tasks.fail_multiples_of_7, progress=False)
    holder = _plant_claim(pylo.store, eid, host="another-host", taken=time.time() - 60)
    _plant_lease(pylo.store, eid, holder.lease_name, expires=time.time() - 1)  # it stopped renewing
    resumed = pylo.start_from_past_execution(eid, tasks.noop, progress=False)
    assert pylo.get_state(resumed) == (list(range(10)), [])


def test_a_release_is_not_fsynced_and_a_release_lost_to_a_power_cut_holds_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    pylo = Pylo.local_multithread(str(tmp_path / "s"), number_of_workers=1)
    eid = pylo.start_from_scratch(range(10), tasks.fail_multiples_of_7, progress=False)
    claim = pylo.store.claim(eid)
    synced: list[int] = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd))[1])
    pylo.store.release(claim)
    assert synced == []  # the end of every run: no fsync, as for a lease
    monkeypatch.undo()
    # the power cut: the marker is gone, and the holder's lease stopped being renewed
    marker = pylo.store.layout.claim(eid, claim.generation, released=True)
    os.remove(marker)
    _plant_lease(pylo.store, eid, claim.holder.lease_name, expires=time.time() - 1)
    resumed = pylo.start_from_past_execution(eid, tasks.noop, progress=False)  # taken over at once
    assert pylo.get_state(resumed) == (list(range(10)), [])


def test_a_claim_whose_holder_is_alive_is_refused_and_force_waits_for_it_to_end(tmp_path: Path) -> None:
    clock = ManualClock()  # the wait for the old holder's lease to expire takes no real time
    pylo = Pylo(Store(str(tmp_path / "s"), clock=clock), ThreadBackend(), Config(number_of_workers=1))
    eid = pylo.start_from_scratch(range(10), tasks.fail_multiples_of_7, progress=False)
    holder = _plant_claim(pylo.store, eid, host="another-host", taken=clock.time() - 60)
    expires = clock.time() + 2.0
    _plant_lease(pylo.store, eid, holder.lease_name, expires=expires)  # alive, on another host
    with pytest.raises(ExecutionClaimed, match=f"on another-host .*pylo.attach\\('{eid}'\\).*force=True"):
        pylo.resume(eid, tasks.noop)
    resumed = pylo.start_from_past_execution(eid, tasks.noop, progress=False, force=True)
    assert clock.time() >= expires and 0 < clock.slept <= 2.0 + STOP_POLL  # it waited until nothing lived
    assert pylo.store.cancel_requested(eid)  # and asked it to stop first
    assert pylo.get_state(resumed) == (list(range(10)), [])
    assert pylo.store.claim_holder(eid) is None


def test_a_forced_claim_on_a_run_that_never_stops_gives_up_after_its_wait(tmp_path: Path) -> None:
    clock = ManualClock()
    store = Store(str(tmp_path / "s"), clock=clock)
    eid = new_execution_id()
    holder = _plant_claim(store, eid, host="another-host", taken=clock.time() - 60)
    _plant_lease(store, eid, "worker-0000", expires=clock.time() + 3600)  # its worker ignores the cancel
    with pytest.raises(ExecutionClaimed, match="asked to stop but still runs after 30s"):
        store.claim(eid, force=True, wait=30)
    assert clock.slept == pytest.approx(30, abs=2 * STOP_POLL)
    assert store.cancel_requested(eid) and store.claim_holder(eid) == holder  # nothing was taken


def _plant_lease(store: Store, eid: str, name: str, *, expires: float) -> None:
    from pylo.store._leases import Lease

    lease = Lease(name=name, writer="0" * 12, renewed=expires - 4, expires=expires)
    store.files.put(store.layout.lease(eid, name), lease.to_json())


def _plant_claim(store: Store, eid: str, **fields: Any) -> Any:
    """A claim as another client would have left it (its generation after the existing ones)."""
    from pylo.store._claims import latest

    gen, _ = latest(store.files.listdir(store.layout.claims_dir(eid)))
    holder = dataclasses.replace(new_holder(), **fields)
    assert store.files.put_new(store.layout.claim(eid, gen + 1), holder.to_json())
    return holder


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        ([], (0, False)),
        (["000001.json"], (1, False)),
        (["000001.json", "000001.released"], (1, True)),
        (["000001.json", "000001.released", "000002.json"], (2, False)),
        (["000002.json", "000001.json", "000001.released", ".tmp-abc", "junk"], (2, False)),
        (["000003.released"], (0, False)),  # a release marker without its claim holds nothing
    ],
)
def test_the_live_claim_is_the_highest_generation_not_released(names: list[str], expected: tuple[int, bool]) -> None:
    from pylo.store._claims import latest

    assert latest(names) == expected


def test_an_unreadable_claim_object_holds_nothing() -> None:
    from pylo.store._claims import Holder

    assert Holder.from_json(b"\x00garbage") is None and Holder.from_json(b'{"format": 1}') is None
    holder = new_holder()
    assert Holder.from_json(holder.to_json()) == holder
