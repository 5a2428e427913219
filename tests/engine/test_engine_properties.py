"""Property tests of the engine's pure logic: the job status table, and the scheduler's decisions
(``_scheduling``) driven through any sequence of events. Each decision is carried out the way the
scheduler carries it out, every status change through ``check_transition``."""

from __future__ import annotations

import dataclasses
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pylo import Status
from pylo._core.decide import RetryPolicy
from pylo._core.status import SETTLED, check_transition
from pylo.conditions import AfterAnother, AfterOthers, AfterTimepoint, BeforeTimepoint, Condition
from pylo.engine._outcome import Outcome
from pylo.engine._scheduling import (
    BeginOnDask, Cancel, Fail, Halt, Restart, RetryLater, RunAction, Settle, Start, Stream, TakeBack, Upstream,
    Wait, after_outcome, gate, on_cancel, on_rerun,
)

P, R, D, F, C = Status.PENDING, Status.RUNNING, Status.DONE, Status.FAILED, Status.CANCELLED

#: The job lifecycle, written out apart from the table it checks: pending → running → done |
#: failed | cancelled; a pending job may be cancelled, or failed without running (its condition
#: raised); an ended job may be re-run.
LIFECYCLE = {(P, R), (P, C), (P, F), (R, D), (R, F), (R, C), (D, P), (F, P), (C, P)}

statuses = st.sampled_from(list(Status))


# -- the transition table ----------------------------------------------------------------------


@given(old=statuses, new=statuses)
def test_a_transition_is_accepted_exactly_when_the_lifecycle_has_it(old: Status, new: Status) -> None:
    try:
        accepted = check_transition(old, new) is new
    except RuntimeError:
        accepted = False
    assert accepted == ((old, new) in LIFECYCLE)


@given(requests=st.lists(statuses, max_size=40))
def test_a_status_sequence_only_follows_the_table(requests: list[Status]) -> None:
    status, path = P, [P]
    for wanted in requests:
        try:
            status = check_transition(status, wanted)
        except RuntimeError:
            continue  # refused: the status stays what it was
        path.append(status)
    assert all(step in LIFECYCLE for step in zip(path, path[1:]))
    for before, after in zip(path, path[1:]):
        if after in (D, R):
            assert before is (R if after is D else P)  # done only from running, running from pending


# -- the decisions, carried out over any sequence of events ---------------------------------------


@dataclasses.dataclass
class Run:
    """One job as the scheduler keeps it (``JobState``), changed the way the scheduler changes it."""

    status: Status = P
    token: int = 0
    attempts: int = 0
    compiled: bool = False
    retries_taken: int = 0  # RetryLater decisions in this run
    path: list[Status] = dataclasses.field(default_factory=lambda: [P])

    def move(self, status: Status) -> None:
        self.status = check_transition(self.status, status)
        self.path.append(status)
        if status is R:
            self.attempts += 1

    def carry_out(self, action: RunAction) -> None:
        if isinstance(action, BeginOnDask):
            self.move(R)
        elif isinstance(action, Settle):
            self.move(action.status)
            self.token += 1  # what the ended run's attempts still report is dropped
        elif isinstance(action, RetryLater):
            self.move(F)
            self.move(P)
            self.compiled = False
            self.retries_taken += 1
        elif isinstance(action, TakeBack):
            self.compiled = False
            self.token += 1
            if self.status is R:
                self.move(C)
                self.move(P)
                self.attempts -= 1
        elif isinstance(action, Restart):
            check_transition(self.status, P)
            self.status, self.attempts, self.compiled, self.retries_taken = P, 0, False, 0
            self.path.append(P)
        else:
            assert isinstance(action, (Stream, Halt))  # no status change


OUTCOMES = {
    "done": Outcome("done", 1),
    "failed": Outcome("failed", ValueError("boom")),
    "lost": Outcome("lost", "the worker died"),
    "skipped": Outcome("skipped", "an upstream failed"),
    "stream": Outcome("stream", "a generator"),
}

events = st.one_of(
    st.just(("start",)),
    st.just(("compile",)),
    st.tuples(st.just("report"), st.booleans(), st.sampled_from(sorted(OUTCOMES))),
    st.tuples(st.just("cancel"), st.booleans()),
    st.just(("rerun",)),
)


def play(run: Run, event: tuple[Any, ...], policy: RetryPolicy) -> tuple[RunAction, ...]:
    """Apply one event as the scheduler would; the decisions it took."""
    kind = event[0]
    actions: tuple[RunAction, ...] = ()
    if kind == "start" and run.status is P and not run.compiled:  # its gate passed, a slot is free
        run.move(R)
        run.token += 1
    elif kind == "compile" and run.status is P and run.attempts == 0 and not run.compiled:
        run.compiled, run.token = True, run.token + 1  # Dask holds its gate
    elif kind == "report":
        stale, outcome = event[1], OUTCOMES[event[2]]
        actions = after_outcome(run, run.token - stale, outcome, policy)
        if stale:
            assert actions == ()  # an attempt that was superseded changes nothing
    elif kind == "cancel":
        actions = on_cancel(run, "why", has_handle=event[1])
    elif kind == "rerun":
        actions = on_rerun(run)
    for action in actions:
        run.carry_out(action)  # check_transition raises if a decision asked for an illegal change
    return actions


@settings(max_examples=300)
@given(
    plays=st.lists(events, max_size=30),
    retries=st.integers(0, 3),
)
def test_the_decisions_never_ask_for_an_illegal_status_change(plays: list[tuple[Any, ...]], retries: int) -> None:
    policy = RetryPolicy(retries=retries, delay=1.0)
    run = Run()
    for event in plays:
        before = run.status
        actions = play(run, event, policy)
        assert run.retries_taken <= retries
        assert 0 <= run.attempts <= retries + 1
        if before in SETTLED and run.status is not before:
            assert Restart() in actions  # an ended run changes only by being re-run
        if any(isinstance(a, Settle) for a in actions):
            assert run.status in SETTLED
    assert all(step in LIFECYCLE for step in zip(run.path, run.path[1:]))


# -- the gate -------------------------------------------------------------------------------------

IDS = ["a", "b", "c"]
NOW = 1_000.0


class Ctx:
    def __init__(self, statuses: dict[str, Status], now: float) -> None:
        self.statuses, self.now = statuses, now

    def job_status(self, job_id: str) -> Status | None:
        return self.statuses.get(job_id)

    def time(self) -> float:
        return self.now


status_sets = st.sets(statuses, min_size=1).map(frozenset)
simple_conditions = st.one_of(
    st.builds(AfterAnother, st.sampled_from(IDS), status_sets),
    st.builds(AfterOthers, st.lists(st.sampled_from(IDS), min_size=1, max_size=3), status_sets,
              st.sampled_from(["all", "any"])),
    st.builds(AfterTimepoint, st.floats(NOW - 50, NOW + 50)),
    st.builds(BeforeTimepoint, st.floats(NOW - 50, NOW + 50)),
)
conditions = st.recursive(
    simple_conditions, lambda inner: st.tuples(inner, inner, st.booleans()).map(lambda t: t[0] & t[1] if t[2] else t[0] | t[1]),
    max_leaves=4,
)
upstreams = st.lists(
    st.builds(Upstream, st.sampled_from(IDS), st.just("up"), st.one_of(st.none(), statuses)), max_size=3,
)
contexts = st.builds(Ctx, st.dictionaries(st.sampled_from(IDS), statuses), st.floats(NOW - 100, NOW + 100))


@settings(max_examples=300)
@given(ups=upstreams, condition=st.one_of(st.none(), conditions), ctx=contexts)
def test_the_gate_starts_a_job_exactly_when_its_upstreams_are_done_and_its_condition_holds(
    ups: list[Upstream], condition: Condition | None, ctx: Ctx
) -> None:
    action = gate(ups, condition, ctx, poll_every=0.5)
    assert gate(ups, condition, ctx, poll_every=0.5) == action  # pure: the same answer again
    ended_badly = [u for u in ups if u.status in (F, C)]
    if ended_badly:
        assert isinstance(action, Cancel) and ended_badly[0].id in action.reason
    elif any(u.status is not D for u in ups):
        assert action == Wait()  # the condition is not asked before the upstreams are done
    else:
        assert isinstance(action, Start) == (condition is None or condition.satisfy(ctx))
    assert not isinstance(action, Fail)  # only a condition that raises fails its job


@settings(max_examples=300)
@given(condition=conditions, ctx=contexts)
def test_the_gate_waits_for_something_that_can_change_its_answer(condition: Condition, ctx: Ctx) -> None:
    action = gate([], condition, ctx, poll_every=0.5)
    if isinstance(action, Wait):
        watched = condition.job_ids()
        assert watched is not None  # the built-in conditions all say what they depend on
        assert action.until is None or action.until > ctx.time()  # a deadline still ahead
        if action.until is None:
            assert any(ctx.job_status(i) not in SETTLED for i in watched)  # a job it names can still change
    elif isinstance(action, Cancel):  # can never hold: no job it names will change, no deadline is ahead
        assert all(ctx.job_status(i) in SETTLED for i in condition.job_ids() or ())
        assert condition.deadline(ctx) is None and not condition.satisfy(ctx)
