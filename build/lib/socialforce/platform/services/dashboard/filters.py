"""The dashboard's filters: a period of local dates, a town and a service category, from query arguments."""
from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _

from socialforce.platform import localtime
from socialforce.platform.extensions import db
from socialforce.platform.inputs import parse_date, parse_int
from socialforce.platform.models import ServiceCategory, Town, User
from socialforce.platform.services import ServiceError

MAX_PERIOD_DAYS = 3 * 366


@dataclass(frozen=True)
class Filters:
    """The dashboard's filters: local dates [start, end], optional town and service category."""

    start: date
    end: date
    town_id: int | None = None
    category_id: int | None = None
    category_code: str | None = None

    @property
    def start_utc(self) -> datetime:
        return localtime.day_start(self.start)

    @property
    def end_utc(self) -> datetime:
        """The exclusive upper bound: local midnight after the end date, in UTC."""
        return localtime.day_start(self.end + timedelta(days=1))

    @property
    def month_start(self) -> date:
        """The first day of the end date's month (the month of the monthly figures)."""
        return self.end.replace(day=1)

    @property
    def month_end(self) -> date:
        return self.end.replace(day=calendar.monthrange(self.end.year, self.end.month)[1])

    def as_args(self) -> dict[str, str]:
        """The filters as query arguments (for links and downloads)."""
        args = {"from": self.start.isoformat(), "to": self.end.isoformat()}
        if self.town_id:
            args["town"] = str(self.town_id)
        if self.category_code:
            args["category"] = self.category_code
        return args


def month_bounds(month: date) -> tuple[date, date]:
    """The first and last day of a month."""
    first = month.replace(day=1)
    return first, first.replace(day=calendar.monthrange(first.year, first.month)[1])


def default_period(today: date) -> tuple[date, date]:
    """The last complete month before today: its first and last day."""
    return month_bounds(today.replace(day=1) - timedelta(days=1))


def parse_filters(user: User, args: Mapping[str, str], today: date) -> Filters:
    """Filters from query arguments (from, to, town, category); ServiceError(400) on bad input.

    Default period: the last complete month (month-to-date figures are partial and misleading). Town staff always
    get their own town.
    """
    default_start, default_end = default_period(today)
    start = parse_date(args["from"]) if args.get("from") else default_start
    end = parse_date(args["to"]) if args.get("to") else default_end
    if start is None or end is None:
        raise ServiceError(_("Enter dates as YYYY-MM-DD."), status=400, field="from")
    if end < start:
        raise ServiceError(_("The end date is before the start date."), status=400, field="to")
    if (end - start).days > MAX_PERIOD_DAYS:
        raise ServiceError(_("Choose a period of at most three years."), status=400, field="from")
    town_id = user.town_id
    if town_id is None and args.get("town"):
        if parse_int(args["town"]) is None or db.session.get(Town, parse_int(args["town"])) is None:
            raise ServiceError(_("Unknown town."), status=400, field="town")
        town_id = int(args["town"])
    category_id, code = None, (args.get("category") or "").strip() or None
    if code:
        category_id = db.session.scalar(sa.select(ServiceCategory.id).where(ServiceCategory.code == code))
        if category_id is None:
            raise ServiceError(_("Unknown service category."), status=400, field="category")
    return Filters(start, end, town_id, category_id, code)
