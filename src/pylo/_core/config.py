"""The options of an execution, at their old import path: ``Config`` lives in ``pylo._config``,
below both the core and the store (the store's manifest carries a config)."""

from __future__ import annotations

from .._config import MAX_BLOCK_SIZE, MAX_SECONDS, Config, _check_float, _check_int

__all__ = ["MAX_BLOCK_SIZE", "MAX_SECONDS", "Config", "_check_float", "_check_int"]
