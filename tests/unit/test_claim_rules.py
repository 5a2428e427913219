"""The claim rules, pure: whether a claim nobody released still holds, and what a client asking
for it may do — from what the store holds (the claim, its run, the leases), the time and this
process, as a table. No store, no sleeps: the time is a number."""

from __future__ import annotations

import pytest

from pylo.store._claims import CLAIM_GRACE, Here, Holder, Seen, Verdict, is_alive, judge
from pylo.store._leases import Lease

NOW = 1_000_000.0
OTHER = Holder(token="a" * 32, host="other-host", pid=4242, since="then", taken=NOW - 60)  # past its grace
FRESH = Holder(token="b" * 32, host="other-host", pid=4242, since="now", taken=NOW - CLAIM_GRACE / 2)
HERE = Here(pid=7, host="this-host")
MINE = Holder(token="c" * 32, host="this-host", pid=7, since="then", taken=NOW - 60)
HERE_HOLDING = Here(pid=7, host="this-host", holding=frozenset({MINE.token}))
RESUME = "20261207T000000-resumeid"


def live(name: str) -> Lease:
    return Lease(name=name, writer="w" * 12, renewed=NOW - 1, expires=NOW + 7)


def expired(name: str) -> Lease:
    return Lease(name=name, writer="w" * 12, renewed=NOW - 20, expires=NOW - 12)


def ended(name: str) -> Lease:
    return Lease(name=name, writer="w" * 12, renewed=NOW - 1, expires=NOW + 7, ended=True)


CLIENT = OTHER.lease_name

CASES = [
    # (why, seen, here, alive)
    ("an unreadable claim holds nothing", Seen(None, None, (live("worker-0000"),)), HERE, False),
    ("its holder renews its lease", Seen(OTHER, None, (live(CLIENT),)), HERE, True),
    ("nothing renews: stale", Seen(OTHER, None, (expired(CLIENT), expired("worker-0000"))), HERE, False),
    ("the client died late, a worker of the execution still runs",
     Seen(OTHER, None, (expired(CLIENT), live("worker-0001"))), HERE, True),
    ("the client's lease never mattered alone: a worker alone keeps it",
     Seen(OTHER, None, (live("worker-0000"),)), HERE, True),
    ("a worker beyond any planned count (one that joined) counts too",
     Seen(OTHER, None, (expired(CLIENT), live("worker-0137"))), HERE, True),
    ("every worker ended", Seen(OTHER, None, (expired(CLIENT), ended("worker-0000"), ended("worker-0001"))), HERE, False),
    ("another client's lease is not the holder's", Seen(OTHER, None, (live("client-ffffffffffff"),)), HERE, False),
    ("the resume it started still has a worker",
     Seen(OTHER, RESUME, (expired(CLIENT),), (live("worker-0000"),)), HERE, True),
    ("the resume it started still has its client", Seen(OTHER, RESUME, (), (live("client-0123456789ab"),)), HERE, True),
    ("the resume it started ended", Seen(OTHER, RESUME, (expired(CLIENT),), (ended("worker-0000"),)), HERE, False),
    ("just taken, before its first lease", Seen(FRESH, None, ()), HERE, True),
    ("just taken, but it already names its run, whose leases are all gone", Seen(FRESH, RESUME, ()), HERE, False),
    ("a run of this very process holds it", Seen(MINE, None, ()), HERE_HOLDING, True),
    ("this process held it and its run ended without a release (store unreachable)",
     Seen(MINE, None, (live(MINE.lease_name),)), HERE, False),
]


@pytest.mark.parametrize(("why", "seen", "here", "expected"), CASES, ids=[c[0] for c in CASES])
def test_whether_a_claim_is_alive(why: str, seen: Seen, here: Here, expected: bool) -> None:
    assert is_alive(seen, NOW, here) is expected


def test_a_lease_alive_now_expires_on_the_clock() -> None:
    seen = Seen(OTHER, None, (expired(CLIENT), live("worker-0000")))
    assert is_alive(seen, NOW, HERE) and not is_alive(seen, NOW + 7, HERE)


@pytest.mark.parametrize(
    ("seen", "here", "force", "verdict"),
    [
        (Seen(OTHER, None, (expired(CLIENT),)), HERE, False, Verdict.TAKE_OVER),
        (Seen(OTHER, None, (expired(CLIENT),)), HERE, True, Verdict.TAKE_OVER),
        (Seen(OTHER, None, (expired(CLIENT), live("worker-0003"))), HERE, False, Verdict.REFUSE),
        (Seen(OTHER, None, (expired(CLIENT), live("worker-0003"))), HERE, True, Verdict.STOP_FIRST),
        (Seen(MINE, None, ()), HERE_HOLDING, False, Verdict.REFUSE),
        (Seen(MINE, None, ()), HERE_HOLDING, True, Verdict.REFUSE_OWN),
        (Seen(None, None, (live("worker-0000"),)), HERE, False, Verdict.TAKE_OVER),
    ],
)
def test_what_a_client_may_do_about_a_live_claim(seen: Seen, here: Here, force: bool, verdict: Verdict) -> None:
    assert judge(seen, now=NOW, force=force, here=here) is verdict
