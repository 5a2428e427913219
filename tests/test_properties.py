"""Property tests of a whole run (threads, memory store): whatever the failure pattern, budget,
retries and block layout, every input ends exactly one of finished / failed / pending, and what
is recorded agrees with what happened."""

from __future__ import annotations

import collections
import threading
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pylo import Pylo

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
