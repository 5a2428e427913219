"""``EngineSetting``: how an engine runs jobs, with executor-engine's fields and defaults."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

from ..errors import InvalidArgument
from ._slots import Slots

__all__ = ["EngineSetting"]


def _default_limits() -> dict[str, int | None]:
    cpus = os.cpu_count() or 1
    return {"thread": min(32, cpus + 4), "process": cpus}


@dataclasses.dataclass
class EngineSetting:
    """How an engine runs jobs (executor-engine's fields and defaults; validated by ``Engine``).

    - ``max_jobs`` — jobs running at once, of the kinds run here (default 20; ``None``: no
      limit). Dask jobs do not count: the cluster's workers limit them (``max_dask_jobs`` does);
    - ``max_thread_jobs``, ``max_process_jobs``, ``max_dask_jobs`` — the same per kind
      (``None``: only ``max_jobs`` limits them); ``limits`` — the same for any kind by name
      (``"local"``, ``"subprocess"``, ``"webapp"``, ``"execution"``…). The shared thread and
      process pools are as large as these limits allow;
    - ``cache_path`` — the folder holding each job's ``cache_dir`` (default: a folder of its own
      in the system's temporary directory, made only when a job first needs it);
    - ``cache_type`` — executor-engine's job cache (``"none"``; pylo keeps job records in the
      engine's ``store`` instead, so ``"diskcache"`` is refused);
    - ``print_traceback`` — log each failed job's traceback (through ``logging``);
    - ``kwargs_inject_key`` — a job function with a parameter of that name gets the engine.
    """

    max_thread_jobs: int | None = None
    max_process_jobs: int | None = None
    max_dask_jobs: int | None = None
    max_jobs: int | None = 20
    cache_type: str = "none"
    cache_path: str | None = None
    print_traceback: bool = True
    kwargs_inject_key: str = "__engine__"
    limits: Mapping[str, int | None] = dataclasses.field(default_factory=dict)

    def slots(self) -> Slots:
        if self.cache_type != "none":
            raise InvalidArgument(
                f"cache_type={self.cache_type!r} is not supported: give the engine a store "
                "(Engine(store=...)) to keep job records"
            )
        per_kind = {
            "thread": self.max_thread_jobs, "process": self.max_process_jobs, "dask": self.max_dask_jobs,
            **dict(self.limits),
        }
        return Slots(self.max_jobs, per_kind, outside_total=("dask",))

    def pool_size(self, kind: str) -> int:
        """Workers of the shared pool of ``kind``: as many as may run at once."""
        limit = self.limits.get(kind) or {"thread": self.max_thread_jobs, "process": self.max_process_jobs}.get(kind)
        return limit or self.max_jobs or _default_limits()[kind] or 1
