"""Whether a worker's "gave up" line was already logged in this process.

The block loop logs that line where the worker runs. When that is this process (threads, an
in-process Dask cluster) the user has seen it; when it is a Dask worker process, the line stays in
that worker's log, and the client says it once the run ends. A filter on the block loop's logger
notes what was said here."""

from __future__ import annotations

import logging

__all__ = ["said_here"]


class _GaveUpHere(logging.Filter):
    """Notes the (execution, worker) of each "gave up" line the block loop logs in this
    process, so the client does not say it a second time. Lets every record through."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[tuple[str, int]] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if "gave up" in str(record.msg) and isinstance(args, tuple) and len(args) >= 2:
            worker, execution = args[0], args[1]
            if isinstance(worker, int) and isinstance(execution, str):
                self.seen.add((execution, worker))
        return True


_GAVE_UP_HERE = _GaveUpHere()
logging.getLogger("pylo._core.block").addFilter(_GAVE_UP_HERE)


def said_here(execution: str, worker: int) -> bool:
    """Whether this process logged that ``worker`` of ``execution`` gave up."""
    return (execution, worker) in _GAVE_UP_HERE.seen
