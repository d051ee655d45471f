"""One local clock (Asia/Shanghai, UTC+8 all year): conversions, today, day and month bounds in naive UTC."""
from __future__ import annotations

from datetime import date, datetime

from socialforce.platform import localtime
from socialforce.platform.models import utcnow


def test_conversions_are_eight_hours_apart_and_round_trip():
    utc = datetime(2024, 7, 1, 20, 30)
    assert localtime.to_local(utc) == datetime(2024, 7, 2, 4, 30)
    assert localtime.to_utc(localtime.to_local(utc)) == utc


def test_today_is_the_local_date_not_the_utc_one():
    assert localtime.today(datetime(2024, 3, 4, 15, 59)) == date(2024, 3, 4)
    assert localtime.today(datetime(2024, 3, 4, 16, 0)) == date(2024, 3, 5)
    assert abs((localtime.today() - localtime.to_local(utcnow()).date()).days) <= 1


def test_day_and_month_bounds_are_local_midnights_in_utc():
    assert localtime.day_start(date(2024, 3, 5)) == datetime(2024, 3, 4, 16, 0)
    assert localtime.month_bounds(datetime(2024, 12, 31, 16, 0)) == (datetime(2024, 12, 31, 16, 0),
                                                                     datetime(2025, 1, 31, 16, 0))
    assert localtime.month_bounds(datetime(2024, 12, 31, 15, 59)) == (datetime(2024, 11, 30, 16, 0),
                                                                      datetime(2024, 12, 31, 16, 0))
