"""Defaults from the Dask config: the ``pylo:`` section of Dask's YAML files and ``DASK_PYLO__…``
environment variables, where Dask users already keep theirs (the dashboard pages read
``pylo.web.*`` there too). An argument given to ``Pylo.local_multithread`` or ``Pylo.dask``
always wins over the config; the config wins over pylo's own defaults.

Keys (hyphens and underscores are the same to Dask)::

    pylo:
      store: s3://bucket/runs           # the store, when the constructor is given none
      storage-options: {anon: false}    # fsspec options of that store
      store-retry-seconds: 6.5
      number-of-workers: 8
      max-worker-failures: 1000
      task-executions-before-flush: 1000
      store-exceptions: true
      retries: 2
      retry-delay: 1.0
      retry-backoff: 2.0
      retry-max-delay: 300.0
      retry-jitter: 0.1
      flush-interval: 5.0
      block-size: 10000
      timeout: null
      store-results: false
      lease-interval: 2.0

e.g. ``DASK_PYLO__BLOCK_SIZE=500`` or ``DASK_PYLO__STORE=s3://bucket/runs`` in the environment.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from .config import Config
from ..errors import InvalidArgument

__all__ = ["CONSTRUCTOR_KEYS", "OPTION_KEYS", "configured", "key_of", "merge"]

#: The options of ``Config`` that the Dask config may set (every field of it).
OPTION_KEYS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Config))
#: What the constructors take beyond ``Config``.
CONSTRUCTOR_KEYS: tuple[str, ...] = ("store", "storage_options", "store_retry_seconds")


def key_of(name: str) -> str:
    """The Dask config key of an argument: ``block_size`` → ``pylo.block-size``."""
    return "pylo." + name.replace("_", "-")


def configured(names: tuple[str, ...]) -> dict[str, Any]:
    """The values the Dask config sets for ``names`` (a ``null`` counts as unset)."""
    import dask.config

    out: dict[str, Any] = {}
    for name in names:
        value = dask.config.get(key_of(name), default=None)
        if value is not None:
            out[name] = value
    return out


def merge(explicit: Mapping[str, Any], from_config: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments to use: ``explicit`` ones (``None`` meaning "not given") over the config's.
    Raises ``InvalidArgument`` naming the Dask config key when a configured option is invalid."""
    taken = {k: v for k, v in from_config.items() if explicit.get(k) is None}
    options = {k: v for k, v in taken.items() if k in OPTION_KEYS}
    try:
        Config(**options)
    except InvalidArgument as exc:
        keys = ", ".join(key_of(k) for k in sorted(options))
        raise InvalidArgument(f"{exc} (read from the Dask config: {keys})") from None
    return {**{k: v for k, v in explicit.items() if v is not None}, **taken}
