"""executor-engine's ``executor.engine.job.condition``: the conditions of ``pylo.conditions``
(and its parsing helpers, under their old private names)."""

from ...conditions import (
    AfterAnother,
    AfterClock,
    AfterOthers,
    AfterTimepoint,
    AfterWeekday,
    AllSatisfied,
    AnySatisfied,
    BeforeClock,
    BeforeTimepoint,
    BeforeWeekday,
    Condition,
    EveryPeriod,
    parse_clock,
    parse_period,
    parse_weekday,
)

TimeCondition = Condition  # executor-engine's base of the time conditions
_parse_clock_str = parse_clock
_parse_period_str = parse_period
_parse_weekday_str = parse_weekday

__all__ = [
    "AfterAnother",
    "AfterClock",
    "AfterOthers",
    "AfterTimepoint",
    "AfterWeekday",
    "AllSatisfied",
    "AnySatisfied",
    "BeforeClock",
    "BeforeTimepoint",
    "BeforeWeekday",
    "Condition",
    "EveryPeriod",
    "TimeCondition",
]
