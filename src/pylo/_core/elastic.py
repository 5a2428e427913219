"""How many workers a run wants as its cluster grows: pure, asked by whoever starts them.

Without an explicit number of workers a run follows its cluster: one worker per Dask thread.
Threads that join get workers of their own (ids after the last one started), which take blocks
like the others; threads that leave take their workers with them (they hand their unfinished
blocks back), and nobody starts them again. An explicit number is a cap: a run never grows past it.
"""

from __future__ import annotations

__all__ = ["STEWARD_INTERVAL", "GROW_INTERVAL", "to_spawn"]

# Seconds between two looks at the cluster's size: by the client that started the run (a small
# question to the scheduler; at 0.25 s, threads that joined a 3 s run started 0.1 s later than
# Dask's own queue fed them), and by the steward in the run's first worker (which goes on when
# that client is gone).
GROW_INTERVAL = 0.1
STEWARD_INTERVAL = 2.0


def to_spawn(threads: int, started: int, cap: int | None) -> range:
    """The ids of the workers to start now that the cluster has ``threads`` threads and workers
    ``0 … started-1`` were started: one per thread, at most ``cap`` in all."""
    target = threads if cap is None else min(threads, cap)
    return range(started, max(started, target))
