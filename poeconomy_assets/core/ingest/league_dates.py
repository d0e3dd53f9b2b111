"""One rule for dates that cannot belong to a league, shared by the dump importer and live POE Watch history.

Real leagues run 2-5 months: every row of 18 real dumps lies within 75 days of its league's median date. A row
dated more than MAX_DAYS_FROM_MEDIAN days from the median day of its league's rows (9999-12-30, 1970-01-02) is
quarantined, never stored: one such row would stretch ``league_day`` to millions and every feature with it.
"""

from collections.abc import Sequence
from datetime import date

MAX_DAYS_FROM_MEDIAN = 183


def median_day(days: Sequence[date]) -> date:
    """The median day (the upper one of an even count), as the dump importer has always taken it."""
    ordered = sorted(days)
    return ordered[len(ordered) // 2]


def far_from_median(days: Sequence[date]) -> tuple[list[bool], date | None]:
    """(for each day, whether it is more than MAX_DAYS_FROM_MEDIAN days from the median; the median)."""
    if not days:
        return [], None
    median = median_day(days)
    return [abs((day - median).days) > MAX_DAYS_FROM_MEDIAN for day in days], median


def far_reason(median: date) -> str:
    return f"date far outside the league (more than {MAX_DAYS_FROM_MEDIAN} days from its median day {median})"
