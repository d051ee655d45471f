"""Weekly time windows as a 21-bit mask: 7 days x 3 periods (morning, afternoon, evening)."""
from __future__ import annotations

DAYS = 7
PERIODS = ("morning", "afternoon", "evening")
PERIOD_HOURS = {"morning": (8, 12), "afternoon": (13, 17), "evening": (18, 21)}  # local time, [start, end)
ALL = (1 << (DAYS * len(PERIODS))) - 1
WEEKDAYS = ALL & ~sum(1 << (d * 3 + p) for d in (5, 6) for p in range(3))


def bit(day: int, period: int) -> int:
    """The bit for a weekday (0 = Monday) and a period index."""
    return 1 << (day * len(PERIODS) + period)


def from_cells(cells: list[tuple[int, int]]) -> int:
    """A mask from (day, period) pairs."""
    mask = 0
    for day, period in cells:
        mask |= bit(day, period)
    return mask


def cells(mask: int) -> list[tuple[int, int]]:
    """The (day, period) pairs set in a mask."""
    return [(d, p) for d in range(DAYS) for p in range(len(PERIODS)) if mask & bit(d, p)]
