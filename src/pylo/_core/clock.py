"""The injected clock, at its old import path: it lives in ``pylo._clock``, below both the core
and the store (claims wait on it)."""

from __future__ import annotations

from .._clock import Clock, SystemClock, WallClock

__all__ = ["Clock", "SystemClock", "WallClock"]
