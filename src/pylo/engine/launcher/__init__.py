"""executor-engine's ``executor.engine.launcher``."""

from .._engine import get_default_engine
from .._launcher import AsyncLauncher, Launcher, SyncLauncher, launcher

__all__ = ["AsyncLauncher", "Launcher", "SyncLauncher", "get_default_engine", "launcher"]
