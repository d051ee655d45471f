"""Local time in Tengzhou (Asia/Shanghai, no daylight saving): timestamps are stored as naive UTC, shown local."""
from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

ZONE_NAME = "Asia/Shanghai"
LOCAL_TZ = ZoneInfo(ZONE_NAME)


def to_local(value: datetime) -> datetime:
    """Naive UTC -> naive Asia/Shanghai."""
    return value.replace(tzinfo=UTC).astimezone(LOCAL_TZ).replace(tzinfo=None)


def to_utc(value: datetime) -> datetime:
    """Naive Asia/Shanghai -> naive UTC."""
    return value.replace(tzinfo=LOCAL_TZ).astimezone(UTC).replace(tzinfo=None)


def today(now: datetime | None = None) -> date:
    """The local date at the naive-UTC time `now` (default: the current time)."""
    return to_local(now if now is not None else datetime.now(UTC).replace(tzinfo=None)).date()


def day_start(day: date) -> datetime:
    """The naive-UTC instant at which a local day starts."""
    return to_utc(datetime.combine(day, time()))


def month_bounds(now: datetime) -> tuple[datetime, datetime]:
    """The local calendar month containing the naive-UTC time `now`, as a naive-UTC [start, end)."""
    local = to_local(now)
    first = date(local.year, local.month, 1)
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return day_start(first), day_start(following)
