"""Property tests. Of a whole run (threads, memory store): whatever the failure pattern, budget,
retries and block layout, every input ends exactly one of finished / failed / pending, and what
is recorded agrees with what happened. Of planning (every input in one block, at its position,
across resumes), of merging segments (read twice, counted once), and of the pure decisions:
retries and the failure budget, and the claim rules."""

from __future__ import annotations

import collections
import dataclasses
import functools
import random
import threading
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tasks
from pylo import Config, Pylo
from pylo._core.decide import RetryPolicy, gives_up
from pylo._core.plan import plan_execution
from pylo.store import Store
from pylo.store._claims import Here, Holder, Seen, Verdict, is_alive, judge
from pylo.store._leases import Lease, worker_lease_name

NEVER = 99  # an input that fails on every attempt


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    fails=st.lists(st.sampled_from([0, 0, 0, 1, 2, NEVER]), max_size=40),
    retries=st.integers(0, 2),
    budget=st.integers(0, 12),
    workers=st.integers(1, 3),
    block_size=st.integers(1, 8),
    flush_every=st.integers(1, 5),
)
def test_every_input_ends_exactly_once(
    fails: list[int], retries: int, budget: int, workers: int, block_size: int, flush_every: int
) -> None:
    attempts: collections.Counter[int] = collections.Counter()
    lock = threading.Lock()

    def task(x: int) -> None:
        with lock:
            attempts[x] += 1
            n = attempts[x]
        if n <= fails[x]:
            raise ValueError(f"attempt {n} of {x}")

    pylo = Pylo.local_multithread(
        f"memory://prop-{uuid.uuid4().hex}", number_of_workers=workers, max_worker_failures=budget,
        task_executions_before_flush=flush_every, retries=retries, block_size=block_size,
    )
    inputs = list(range(len(fails)))
    eid = pylo.start_from_scratch(inputs, task, progress=False)
    finished, unfinished = pylo.get_state(eid)
    summary = pylo.summary(eid)

    assert sorted(finished + unfinished) == inputs and not set(finished) & set(unfinished)
    assert (summary.finished, summary.failed + summary.pending) == (len(finished), len(unfinished))
    for x in finished:  # finished means an attempt succeeded within the retries
        assert fails[x] <= retries and attempts[x] == fails[x] + 1
    for x in unfinished:  # never attempted (pending), or out of retries / budget (failed)
        assert attempts[x] <= retries + 1
    records = collections.Counter(r.input for r in pylo.get_exceptions(eid))
    assert records == +collections.Counter({x: min(attempts[x], fails[x]) for x in inputs})
    assert sum(w.failed_attempts for w in summary.workers) == sum(records.values())
    for w in summary.workers:  # a worker gives up exactly when it went past its budget
        assert w.gave_up == (w.failed_attempts > budget)


KINDS = {"T": TimeoutError, "V": ValueError, "K": KeyError}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kinds=st.lists(st.sampled_from(["", "", "T", "V", "K"]), max_size=30),
    steps=st.lists(st.tuples(st.sets(st.sampled_from(sorted(KINDS))), st.booleans(), st.booleans()),
                   min_size=1, max_size=3),
    budget=st.integers(0, 6),
    block_size=st.integers(1, 6),
)
def test_reruns_of_some_failures_never_lose_or_double_an_input(
    kinds: list[str], steps: list[tuple[set[str], bool, bool]], budget: int, block_size: int
) -> None:
    """A chain of resumes, each rerunning only some failure types (or all), with or without the
    pending inputs, and each fixing some of what it reruns: every input stays exactly once in
    finished or unfinished, in input order, its result (when finished) is the last task's that
    ran it, and an unfinished input that failed keeps a readable last failure."""
    pylo = Pylo.local_multithread(
        f"memory://only-{uuid.uuid4().hex}", number_of_workers=2, max_worker_failures=budget,
        block_size=block_size, store_results=True, task_executions_before_flush=2,
    )
    inputs = list(range(len(kinds)))

    def failing(fixed: frozenset[str], tag: int) -> object:
        def task(x: int) -> object:
            if kinds[x] and kinds[x] not in fixed:
                raise KINDS[kinds[x]](f"{kinds[x]} on {x}")
            return (tag, x)
        return task

    eid = pylo.start_from_scratch(inputs, failing(frozenset(), 0), progress=False)
    for tag, (names, all_kinds, pending) in enumerate(steps, 1):
        only = None if all_kinds or not names else tuple(KINDS[n] for n in sorted(names))
        fixed = frozenset(names if only else KINDS)
        eid = pylo.start_from_past_execution(eid, failing(fixed, tag), only=only, pending=pending, progress=False)
        finished, unfinished = pylo.get_state(eid)
        assert finished == sorted(finished) and unfinished == sorted(unfinished)
        assert sorted(finished + unfinished) == inputs
        results = list(pylo.get_results(eid))
        assert [x for x, _ in results] == finished and all(r[1] == x for x, r in results)
        attempted = {r.input for r in pylo.get_exceptions(eid)}
        summary = pylo.summary(eid)
        assert summary.finished == len(finished) and summary.unfinished == len(unfinished)
        assert attempted <= set(unfinished)  # a record only for what is still unfinished


# -- planning: every input in exactly one block, identified by position -----------------------


@dataclasses.dataclass(frozen=True)
class Tagged:
    """An input equal to every other with the same ``value``, whatever its ``position``: pylo must
    tell inputs apart by position alone (inputs may be equal to each other, or unhashable)."""

    position: int
    value: int = dataclasses.field(compare=True)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Tagged) and other.value == self.value

    def __hash__(self) -> int:
        return hash(self.value)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=st.lists(st.integers(0, 2), max_size=60),
    block_size=st.integers(1, 9),
    workers=st.integers(1, 4),
    sized=st.booleans(),
)
def test_planning_puts_every_input_in_exactly_one_block_at_its_position(
    values: list[int], block_size: int, workers: int, sized: bool
) -> None:
    """Whatever the block size, worker count and whether the inputs have a length (a generator
    has none), reading the planned blocks back gives each input once, at its own position."""
    inputs = [Tagged(p, v) for p, v in enumerate(values)]
    store = Store(f"memory://plan-{uuid.uuid4().hex}")
    manifest = plan_execution(store, inputs if sized else iter(inputs), tasks.noop,
                              Config(block_size=block_size), workers)
    assert manifest.n_inputs == len(inputs)
    placed: list[tuple[int, Tagged]] = []
    for info in manifest.blocks:
        roots, got = store.read_inputs(manifest.id, info)
        placed.extend(zip(info.positions if roots is None else roots, got))
    assert sorted(p for p, _ in placed) == list(range(len(inputs)))  # each position exactly once
    assert all(x.position == p for p, x in placed)  # and the input stored there is that position's


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kinds=st.lists(st.sampled_from(["", "", "T", "V"]), max_size=30),
    steps=st.lists(st.tuples(st.sampled_from([None, "T", "V"]), st.booleans(), st.sets(st.integers(0, 29))),
                   min_size=1, max_size=3),
    block_size=st.integers(1, 7),
)
def test_resumes_keep_every_input_at_its_root_position(
    kinds: list[str], steps: list[tuple[str | None, bool, set[int]]], block_size: int
) -> None:
    """A chain of resumes (with ``only=`` or not, with the pending inputs or not, each fixing
    some of the inputs it reruns) over inputs that are all equal to one another: the state lists
    each root position exactly once, in input order, and each input is the one at that position."""
    pylo = Pylo.local_multithread(f"memory://lineage-{uuid.uuid4().hex}", number_of_workers=2,
                                  block_size=block_size, task_executions_before_flush=2)
    inputs = [Tagged(p, 0) for p in range(len(kinds))]
    fixed: set[int] = set()

    def task(x: Tagged) -> None:
        if kinds[x.position] and x.position not in fixed:
            raise KINDS[kinds[x.position]](f"{x.position}")

    eid = pylo.start_from_scratch(inputs, task, progress=False)
    for only, pending, fixes in steps:
        fixed |= fixes
        eid = pylo.start_from_past_execution(eid, task, only=only and KINDS[only], pending=pending, progress=False)
        finished, unfinished = pylo.get_state(eid)
        for part in (finished, unfinished):
            assert [x.position for x in part] == sorted({x.position for x in part})
        assert sorted(x.position for x in finished + unfinished) == list(range(len(inputs)))
        summary = pylo.summary(eid)
        assert (summary.finished, summary.unfinished) == (len(finished), len(unfinished))


# -- merging segments: idempotent, order-free, counted once across a lineage ------------------


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fails=st.lists(st.booleans(), max_size=30), block_size=st.integers(1, 7), flush=st.integers(1, 4),
       seed=st.integers(0, 2**32))
def test_segments_read_twice_count_once_across_a_lineage(fails: list[bool], block_size: int, flush: int, seed: int) -> None:
    """Every progress segment of an execution written again under another writer (as a block
    rerun after a worker death rewrites what it had flushed) changes nothing a reader sees: the
    state, the counts, and the resume that follows, whose counts also take each input once."""
    pylo = Pylo.local_multithread(f"memory://replay-{uuid.uuid4().hex}", number_of_workers=2,
                                  block_size=block_size, task_executions_before_flush=flush)
    inputs = list(range(len(fails)))
    eid = pylo.start_from_scratch(inputs, functools.partial(_fail_flagged, fails), progress=False)
    before, summary = pylo.get_state(eid), pylo.summary(eid)
    files = pylo.store.files
    segments = files.find(pylo.store.layout.progress_dir(eid))
    # In any order. A seeded shuffle, not Hypothesis' own randoms: how many segments there are
    # depends on the threads' timing, and Hypothesis refuses draws that vary between replays.
    for path in random.Random(seed).sample(segments, len(segments)):
        directory, name = path.rsplit("/", 1)
        files.put(f"{directory}/{name.split('-')[0]}-{uuid.uuid4().hex[:12]}", files.get(path))
    assert pylo.get_state(eid) == before
    again = pylo.summary(eid)
    assert (again.finished, again.failed, again.pending) == (summary.finished, summary.failed, summary.pending)
    resumed = pylo.start_from_past_execution(eid, tasks.noop, progress=False)
    assert pylo.get_state(resumed) == (inputs, [])
    after = pylo.summary(resumed)
    assert (after.total, after.finished, after.inherited) == (len(inputs), len(inputs), len(before[0]))


def _fail_flagged(fails: list[bool], x: int) -> None:
    if fails[x]:
        raise ValueError(x)


# -- the retry and budget decisions ------------------------------------------------------------


policies = st.builds(
    RetryPolicy,
    retries=st.integers(0, 6),
    delay=st.floats(0, 10),
    backoff=st.floats(1, 4),
    max_delay=st.floats(0, 100),
    jitter=st.floats(0, 1),
)


@given(policy=policies, failed=st.integers(1, 10), rand=st.floats(0, 1, exclude_max=True))
def test_a_retry_delay_exists_exactly_within_the_retries_and_stays_bounded(
    policy: RetryPolicy, failed: int, rand: float
) -> None:
    delay = policy.next_delay(failed, rand)
    assert (delay is None) == (failed > policy.retries)
    if delay is not None:
        assert 0 <= delay <= policy.max_delay * (1 + policy.jitter) + 1e-9


@given(policy=policies, failed=st.integers(1, 9), rand=st.floats(0, 1, exclude_max=True))
def test_a_later_retry_never_waits_less_for_the_same_draw(policy: RetryPolicy, failed: int, rand: float) -> None:
    now, later = policy.next_delay(failed, rand), policy.next_delay(failed + 1, rand)
    if now is not None and later is not None:
        assert later >= now - 1e-9


@given(budget=st.integers(0, 50), failed=st.integers(0, 60))
def test_a_worker_gives_up_exactly_past_its_budget_and_never_takes_it_back(budget: int, failed: int) -> None:
    assert gives_up(failed, budget) == (failed > budget)
    if gives_up(failed, budget):
        assert gives_up(failed + 1, budget)


# -- the claim rules ---------------------------------------------------------------------------

_NOW = 1_000_000.0
_HOLDERS = [
    None,
    Holder(token="a" * 32, host="other", pid=4242, since="", taken=_NOW - 60),
    Holder(token="b" * 32, host="other", pid=4242, since="", taken=_NOW - 1),  # in its grace
    Holder(token="c" * 32, host="here", pid=7, since="", taken=_NOW - 60),  # this process's
]
leases = st.builds(
    Lease,
    name=st.sampled_from(["client-" + "a" * 12, "client-" + "c" * 12, "client-ffffffffffff",
                          "worker-0000", "worker-0001", "worker-0250"]),
    writer=st.just("0" * 12),
    renewed=st.just(_NOW - 1),
    expires=st.floats(_NOW - 30, _NOW + 30),
    ended=st.booleans(),
)
seens = st.builds(
    Seen,
    holder=st.sampled_from(_HOLDERS),
    runs=st.sampled_from([None, "20261207T000000000000Z-0000abcd"]),
    leases=st.lists(leases, max_size=4).map(tuple),
    run_leases=st.lists(leases, max_size=3).map(tuple),
)
heres = st.sampled_from([Here(7, "here"), Here(7, "here", frozenset({"c" * 32})), Here(8, "elsewhere")])


@given(seen=seens, here=heres, force=st.booleans())
def test_a_claim_is_taken_over_exactly_when_nothing_of_it_lives(seen: Seen, here: Here, force: bool) -> None:
    verdict = judge(seen, now=_NOW, force=force, here=here)
    assert (verdict is Verdict.TAKE_OVER) == (not is_alive(seen, _NOW, here))
    assert verdict in ({Verdict.TAKE_OVER, Verdict.STOP_FIRST, Verdict.REFUSE_OWN} if force
                       else {Verdict.TAKE_OVER, Verdict.REFUSE})


@given(seen=seens, here=heres, later=st.floats(0, 60), shuffle=st.randoms(use_true_random=False))
def test_a_dead_claim_stays_dead_and_lease_order_does_not_matter(
    seen: Seen, here: Here, later: float, shuffle: Any
) -> None:
    if not is_alive(seen, _NOW, here):
        assert not is_alive(seen, _NOW + later, here)  # leases only expire, the grace only ends
    mixed = dataclasses.replace(seen, leases=tuple(shuffle.sample(list(seen.leases), len(seen.leases))))
    assert is_alive(mixed, _NOW, here) == is_alive(seen, _NOW, here)


@given(seen=seens, worker=st.integers(0, 9999))
def test_any_live_worker_keeps_a_claim_however_late_and_whatever_its_number(seen: Seen, worker: int) -> None:
    """A client elsewhere (not the process that held it) must not take over an execution any of
    whose workers renews its lease, whatever became of its client's."""
    here = Here(8, "elsewhere")
    assume_readable = seen.holder is not None
    alive_worker = Lease(name=worker_lease_name(worker), writer="0" * 12, renewed=_NOW - 1, expires=_NOW + 1)
    with_worker = dataclasses.replace(seen, leases=(*seen.leases, alive_worker))
    assert is_alive(with_worker, _NOW, here) == assume_readable
