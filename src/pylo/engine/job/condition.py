"""The seed's ``executor.engine.job.condition``: the conditions of ``pylo.conditions``."""

from ...conditions import (
    AfterAnother,
    AfterClock,
    AfterOthers,
    AfterTimepoint,
    AllSatisfied,
    AnySatisfied,
    Condition,
)

__all__ = ["AfterAnother", "AfterClock", "AfterOthers", "AfterTimepoint", "AllSatisfied", "AnySatisfied", "Condition"]
