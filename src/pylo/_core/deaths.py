"""Finding the input that kills its process, and recording it failed.

    process dies under block B ─► its rerun reads running/{worker}.json (which input ran last)
        the same input was running at max_input_deaths deaths ─► recorded failed (WorkerDied)
        otherwise ─► before each input of B: running/{worker}.json = {position, deaths so far}
                                                          (careful mode: only in a rerun's block)

A process that dies (``os._exit``, a segfault, the nanny's memory limit) says nothing: the only
witness is what it wrote before. So the rerun of the block that was running writes, before each
input, which one is about to run; when the next rerun finds the same input named again, that input
was running at one more death. ``verdict`` (pure) decides; ``InputWatch`` reads and writes.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
from collections.abc import Callable, Collection
from typing import Any

from ..errors import CorruptSnapshot, WorkerDied
from ..store import Store
from ..store._layout import FORMAT_VERSION, MAX_SMALL_BYTES

__all__ = ["InputWatch", "Running", "Verdict", "exit_code_in", "read_running", "verdict"]

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Running:
    """The input a worker is about to run: ``deaths`` it was found running at before this try,
    and where it runs (the Dask worker's address, the process id, its memory use then)."""

    block: int
    position: int
    deaths: int = 0
    pid: int = 0
    address: str = ""
    memory: int | None = None

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Running:
        return cls(int(obj["block"]), int(obj["position"]), int(obj.get("deaths", 0)), int(obj.get("pid", 0)),
                   str(obj.get("address", "")), None if obj.get("memory") is None else int(obj["memory"]))


@dataclasses.dataclass(frozen=True)
class Verdict:
    """What a rerun of ``block`` knows from the marker: ``position`` was running at ``deaths``
    deaths; ``failed``: enough of them to record it failed."""

    position: int
    deaths: int
    failed: bool


def verdict(marker: Running | None, block: int, concluded: Collection[int], max_deaths: int) -> Verdict | None:
    """What the marker left by the attempt that died says about ``block``. ``None`` when it says
    nothing: no marker, another block's, or an input that concluded since (the death came later,
    between inputs or in another block). Pure."""
    if marker is None or marker.block != block or marker.position in concluded:
        return None
    deaths = marker.deaths + 1  # the attempt that wrote it died while running it
    return Verdict(marker.position, deaths, deaths >= max_deaths)


# What a Dask nanny logs when its worker process ends (``Nanny._death_message``).
_EXITED = re.compile(r"Worker process (\d+) (?:exited with status (-?\d+)|was killed by signal (\d+))")


def exit_code_in(lines: Collection[str], pid: int) -> int | None:
    """The exit code of process ``pid`` in a nanny's log lines (a signal as its negative, as
    ``Popen.returncode`` says it), or ``None`` when they do not say. Pure."""
    for line in lines:
        found = _EXITED.search(line)
        if found is not None and int(found.group(1)) == pid:
            return int(found.group(2)) if found.group(2) is not None else -int(found.group(3))
    return None


def read_running(store: Store, eid: str, worker: int) -> Running | None:
    """Worker ``worker``'s marker, or ``None`` when it has none (one GET)."""
    path = store.layout.running(eid, worker)
    try:
        return Running.from_json(json.loads(store.files.get(path, MAX_SMALL_BYTES)))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as exc:
        raise CorruptSnapshot(f"corrupt object {path}: {exc}", path) from exc


Cause = Callable[[Running], dict[str, Any]]


class InputWatch:
    """Carries out careful mode for one worker: ``before`` each input writes the marker;
    ``killer`` says which input of a block to record failed. ``address``: the Dask worker's;
    ``cause``: what the cluster knows of the death of the process that wrote a marker (keyword
    arguments of ``WorkerDied``: ``exit_code``, ``memory``, ``memory_limit``), asked only when
    an input is recorded failed."""

    def __init__(self, store: Store, eid: str, worker: int, max_deaths: int, *, address: str = "",
                 cause: Cause = lambda marker: {}) -> None:
        self.store, self.eid, self.worker, self.max_deaths = store, eid, worker, max_deaths
        self.address, self.cause = address, cause
        self.marker = read_running(store, eid, worker)
        self.known: Verdict | None = None
        self.block = -1

    def killer(self, block: int, concluded: Collection[int]) -> tuple[int, WorkerDied] | None:
        """Start careful mode for ``block``; return the input to record failed, and why."""
        self.block = block
        self.known = verdict(self.marker, block, concluded, self.max_deaths)
        if self.known is None or not self.known.failed or self.marker is None:
            return None
        log.error("execution %s: input %d was running at %d deaths of its process; recorded failed",
                  self.eid, self.known.position, self.known.deaths)
        return self.known.position, self._died(self.marker, self.known.deaths)

    def _died(self, marker: Running, deaths: int) -> WorkerDied:
        found: dict[str, Any] = {"memory": marker.memory}
        try:
            found.update(self.cause(marker))
        except Exception:  # noqa: BLE001 - the cluster could not say: the record keeps what the marker knows
            log.debug("execution %s: no cause known for the death of pid %d", self.eid, marker.pid, exc_info=True)
        how = " at the worker's memory limit" if found.get("memory_limit") else ""
        code = found.get("exit_code")
        how += "" if code is None else f" (killed by signal {-code})" if code < 0 else f" (exit code {code})"
        memory = f", {found['memory']} bytes in use" if found.get("memory") else ""
        message = (f"input {marker.position} was running each of the {deaths} times its process died{how}; "
                   f"last on Dask worker {marker.address or '?'} (pid {marker.pid}{memory})")
        return WorkerDied(message, address=marker.address, deaths=deaths, **found)

    def before(self, position: int) -> None:
        """Say, in the store, that ``position`` is about to run (one small write)."""
        deaths = self.known.deaths if self.known is not None and self.known.position == position else 0
        body = {"format": FORMAT_VERSION, "block": self.block, "position": position, "deaths": deaths,
                "pid": os.getpid(), "address": self.address, "memory": _memory()}
        self.store.files.put(self.store.layout.running(self.eid, self.worker), json.dumps(body).encode(),
                             volatile=True)  # it must outlive the process, not the machine


def _memory() -> int | None:
    """This process's resident memory in bytes, when psutil can tell (Dask depends on it)."""
    try:
        import psutil  # type: ignore[import-untyped]
    except ImportError:
        return None
    return int(psutil.Process().memory_info().rss)
