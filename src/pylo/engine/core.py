"""executor-engine's ``executor.engine.core``: the engine."""

from ._engine import Engine, EngineSetting

__all__ = ["Engine", "EngineSetting"]
