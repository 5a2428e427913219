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
