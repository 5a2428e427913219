"""executor-engine's ``executor.engine.job.extend.cron``: ``CronJob`` and its schedule words."""

from ....conditions import (
    AfterClock,
    AfterTimepoint,
    AfterWeekday,
    BeforeClock,
    BeforeTimepoint,
    BeforeWeekday,
    EveryPeriod,
)
from ..._sentinel import CronJob, between_clock, between_timepoint, between_weekday

every = EveryPeriod
daily = EveryPeriod("1d")
weekly = EveryPeriod("7d")
hourly = EveryPeriod("1h")
after_clock, before_clock = AfterClock, BeforeClock
after_weekday, before_weekday = AfterWeekday, BeforeWeekday
after_timepoint, before_timepoint = AfterTimepoint, BeforeTimepoint

__all__ = [
    "CronJob",
    "EveryPeriod",
    "after_clock",
    "after_timepoint",
    "after_weekday",
    "before_clock",
    "before_timepoint",
    "before_weekday",
    "between_clock",
    "between_timepoint",
    "between_weekday",
    "daily",
    "every",
    "hourly",
    "weekly",
]
