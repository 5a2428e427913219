"""Taking, judging and giving back claims against the store: the I/O around the pure rules of
``_claims``.

    claim(eid)  ─ LIST claims/ ─► live generation?  ─ GET claim, .runs, leases ─► Seen
                                                    ─ judge(Seen, now, force) ─► Verdict
                 TAKE_OVER / STOP_FIRST (cancel, wait on the clock until nothing lives)
                 ─ create-only PUT claims/{gen+1}.json ─► won: start the holder's heartbeat
"""

from __future__ import annotations

import json
import logging
import os
from typing import TYPE_CHECKING

from .._clock import WallClock
from ..errors import ExecutionClaimed, InvalidArgument
from ._claims import (
    CLIENT_LEASE_INTERVAL,
    Claim,
    Here,
    Holder,
    Seen,
    Verdict,
    hold,
    is_alive,
    judge,
    latest,
    let_go,
    new_holder,
)
from ._heartbeat import Heartbeat
from ._layout import FORMAT_VERSION, validate_execution_id
from ._leases import EXPIRY_INTERVALS, alive

if TYPE_CHECKING:
    from ._store import Store

__all__ = ["Claims"]

log = logging.getLogger(__name__)

# How often a forced claim looks again whether the run it stopped has ended (seconds).
STOP_POLL = 0.2
# A create-only write lost to someone else's is re-examined this many times before giving up.
CONTENDED_TRIES = 3


class Claims:
    """The claims of one store, judged on ``clock`` (wall time for leases, monotonic for waits)."""

    def __init__(self, store: Store, clock: WallClock) -> None:
        self.store, self.files, self.layout, self.clock = store, store.files, store.layout, clock

    def claim(self, eid: str, *, force: bool = False, wait: float = 120.0) -> Claim:
        """See ``Store.claim``."""
        mine = new_holder(self.clock.time())
        took_over: str | None = None
        for _ in range(CONTENDED_TRIES):  # lost a race only when someone else took it: re-examine
            gen, released = latest(self.files.listdir(self.layout.claims_dir(eid)))
            if gen and not released:
                took_over = self._break_or_refuse(eid, gen, force, wait)
            elif gen and force:  # forced again after an earlier forced resume: continue from that one
                took_over = self.runs(eid, gen)
            won = self._take(eid, gen + 1, mine)
            if won is not None:
                return Claim(eid, gen + 1, mine, won, took_over)
            force = False  # a fresh claim by someone else is never broken by force
        raise ExecutionClaimed(f"execution {eid}: could not take its claim (contended)")

    def _take(self, eid: str, gen: int, mine: Holder) -> Heartbeat | None:
        """Write claim ``gen`` create-only; when it is ours, start and return its heartbeat."""
        hold(mine)  # before the write: from then on this process may hold it
        try:
            if not self._won(self.layout.claim(eid, gen), mine):
                let_go(mine)
                return None
            beat = Heartbeat(self.store, eid, mine.lease_name, interval=CLIENT_LEASE_INTERVAL, poll=0,
                             watch_cancel=False)
            return beat.start()
        except BaseException:
            let_go(mine)
            raise

    def _won(self, path: str, mine: Holder) -> bool:
        if self.files.put_new(path, mine.to_json()):
            return True
        theirs = Holder.from_json(self.files.get(path))
        return theirs is not None and theirs.token == mine.token  # our PUT landed, its reply did not

    def point(self, claim: Claim, runs: str) -> None:
        """See ``Store.point``."""
        body = json.dumps({"format": FORMAT_VERSION, "runs": runs}).encode()
        self.files.put(self.layout.claim_runs(claim.execution, claim.generation), body)

    def runs(self, eid: str, gen: int) -> str | None:
        """The execution that the holder of claim ``gen`` started, when it said and it reads."""
        try:
            obj = json.loads(self.files.get(self.layout.claim_runs(eid, gen)))
            return validate_execution_id(obj["runs"])
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError, InvalidArgument):
            log.warning("claim %s of %s names no readable run", gen, eid)
            return None

    def seen(self, eid: str, gen: int) -> Seen:
        """What the store holds now of claim ``gen`` on ``eid`` (the claim rules' input)."""
        holder = Holder.from_json(self.files.get(self.layout.claim(eid, gen)))
        runs = self.runs(eid, gen)
        run_leases = self.store.read_leases(runs) if runs is not None else []
        return Seen(holder, runs, tuple(self.store.read_leases(eid)), tuple(run_leases))

    def _break_or_refuse(self, eid: str, gen: int, force: bool, wait: float) -> str | None:
        """Decide on the live claim ``gen``: return the run it had started when it is taken over."""
        path = self.layout.claim(eid, gen)
        seen = self.seen(eid, gen)
        verdict = judge(seen, now=self.clock.time(), force=force, here=Here.now())
        if verdict is Verdict.TAKE_OVER:
            who = "nobody readable" if seen.holder is None else seen.holder.describe()
            log.warning("claim %s held by %s, of whose run nothing is alive: taken over", path, who)
            return seen.runs
        assert seen.holder is not None  # only an alive claim is refused, and it reads
        running = seen.runs or eid
        if verdict is Verdict.REFUSE:
            raise ExecutionClaimed(
                f"execution {eid} is claimed by {seen.holder.describe()} ({path}) and execution {running} "
                f"is still running: attach to it with pylo.attach({running!r}) (or `pylo attach STORE "
                f"{running}`), wait for it to end, or stop it and resume with force=True."
            )
        if verdict is Verdict.REFUSE_OWN:
            raise ExecutionClaimed(f"execution {eid} is being run or resumed by this very process ({running}); "
                                   "wait for that run or cancel it")
        log.warning("claim %s held by %s: stopping execution %s before taking over (force=True)",
                    path, seen.holder.describe(), running)
        self._stop_and_wait(eid, gen, running, wait)
        return seen.runs

    def _stop_and_wait(self, eid: str, gen: int, running: str, wait: float) -> None:
        """Ask ``running`` to stop and wait until nothing of it is alive: its workers flush first."""
        for target in {eid, running}:
            self.store.request_cancel(target)
        deadline = self.clock.monotonic() + wait
        while self._lives(eid, gen):
            if self.clock.monotonic() > deadline:
                raise ExecutionClaimed(f"execution {running} was asked to stop but still runs after {wait:g}s")
            self.clock.sleep(STOP_POLL)

    def _lives(self, eid: str, gen: int) -> bool:
        """Whether anything of claim ``gen`` or of ``eid`` itself is still alive."""
        seen, now = self.seen(eid, gen), self.clock.time()
        return is_alive(seen, now, Here.now()) or bool(alive(list(seen.leases), now))

    def release(self, claim: Claim) -> None:
        """See ``Store.release``."""
        if claim.holder.pid != os.getpid():
            return
        let_go(claim.holder)
        body = json.dumps({"format": FORMAT_VERSION, "token": claim.holder.token}).encode()
        # Not fsynced, like a lease: a power cut that loses the marker leaves a claim whose
        # holder's lease is no longer renewed, which the next client takes over at once (two
        # fsyncs on the end of every run, 1-2.5 ms of a warm run of 8 inputs).
        self.files.put(self.layout.claim(claim.execution, claim.generation, released=True), body, volatile=True)
        if claim.heartbeat is not None:
            claim.heartbeat.end()

    def abandon(self, claim: Claim) -> None:
        """See ``Store.abandon``."""
        if claim.holder.pid != os.getpid():
            return
        let_go(claim.holder)
        if claim.heartbeat is not None:
            claim.heartbeat.abandon()
        log.error("execution %s: the store became unreachable; its claim was abandoned and counts as "
                  "stale once its lease expires (about %gs)", claim.execution,
                  CLIENT_LEASE_INTERVAL * EXPIRY_INTERVALS)

    def claimed_run(self, eid: str) -> str | None:
        """See ``Store.claimed_run``."""
        gen, released = latest(self.files.listdir(self.layout.claims_dir(eid)))
        return None if not gen or released else self.runs(eid, gen)

    def holder(self, eid: str) -> Holder | None:
        """See ``Store.claim_holder``."""
        gen, released = latest(self.files.listdir(self.layout.claims_dir(eid)))
        if not gen or released:
            return None
        return Holder.from_json(self.files.get(self.layout.claim(eid, gen)))
