"""Volunteer service hours (服务时长): the rounding rule, service records, confirmation (one by one or in bulk) and
star levels; the numbered hours certificate is services/certificates.py.

The rounding rule (applied once, at check-out, to the time between check-in and check-out):

1. take the elapsed time in whole seconds;
2. round it to the nearest quarter hour (15 minutes); exactly half-way (7 min 30 s past a quarter) rounds up;
3. a completed visit counts at least 15 minutes (the minimum) ...
4. ... and at most 8 hours (480 minutes, the cap per visit).

Examples: 1 min -> 15, 22 min 29 s -> 15, 22 min 30 s -> 30, 52 min -> 45, 53 min -> 60, 9 h -> 480.

In the spirit of the Ministry of Civil Affairs' 《志愿服务记录与证明出具办法》, a record holds the date, the place
(village name only, never an exact address), the content, the duration and the verifier; it counts towards a
volunteer's hours only once staff confirm it. Confirmed minutes are always summed from the records (one source of
truth, no stored total that could drift). Records of visits flagged as implausible (services/visits/checkin.py) are
never confirmed in bulk: staff confirm each one on its own, saying they checked the visit.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import gettext as _

from socialforce.platform.extensions import db
from socialforce.platform.i18n import local_time
from socialforce.platform.models import Household, Order, ServiceItem, ServiceRecord, User, Visit
from socialforce.platform.scoping import household_filter
from socialforce.platform.services import ServiceError, audit, notices

QUARTER = 15
MINIMUM_MINUTES = 15
CAP_MINUTES = 8 * 60


def rounded_minutes(checkin_at: datetime, checkout_at: datetime) -> int:
    """Service minutes for a visit under the documented rule: nearest quarter hour, at least 15, at most 480."""
    seconds = int((checkout_at - checkin_at).total_seconds())
    if seconds < 0:
        raise ValueError("check-out before check-in")
    quarter_seconds = QUARTER * 60
    quarters = (seconds + quarter_seconds // 2) // quarter_seconds
    return min(CAP_MINUTES, max(MINIMUM_MINUTES, quarters * QUARTER))


def create_record(visit: Visit) -> ServiceRecord:
    """The unconfirmed service record of a volunteer's completed visit (date, village, content, rounded minutes);
    the town's staff are told that hours await confirmation (once until read)."""
    item = visit.order.item
    record = ServiceRecord(
        visit_id=visit.id,
        volunteer_id=visit.volunteer_id,
        served_on=date.fromisoformat(local_time(visit.checkin_at, "%Y-%m-%d")),
        place=item.household.village.name[:100],
        content=item.category.name_zh[:200],
        minutes=rounded_minutes(visit.checkin_at, visit.checkout_at),
    )
    db.session.add(record)
    db.session.flush()
    notices.awaiting_review("hours_pending", item.household.town)
    return record


def confirm_record(record: ServiceRecord, actor: User, now: datetime, checked_flags: bool = False) -> ServiceRecord:
    """Confirm a record so it counts (staff or the order's provider); a second confirmation is refused, and a record
    whose visit is flagged as implausible needs `checked_flags` (the confirmer says they checked the visit)."""
    flags = db.session.scalar(sa.select(Visit.flags).where(Visit.id == record.visit_id))
    if flags and not checked_flags:
        raise ServiceError(_("This visit is flagged as implausible: check it, then confirm that you did."),
                           status=400, field="checked")
    done = db.session.execute(
        sa.update(ServiceRecord).where(ServiceRecord.id == record.id, ServiceRecord.confirmed_at.is_(None))
        .values(confirmed_by_id=actor.id, confirmed_at=now).execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:
        raise ServiceError(_("This service record is already confirmed."))
    db.session.refresh(record)
    audit.record("service_record_confirmed", actor, "service_record", record.id, minutes=record.minutes,
                 flags=flags)
    return record


def confirm_records(user: User, record_ids: list[int], now: datetime) -> int:
    """Confirm in bulk the pending records in the user's scope among `record_ids`, except those whose visit is
    flagged (they are confirmed one at a time) and those confirmed meanwhile; returns how many were confirmed."""
    records = []
    for start in range(0, len(record_ids), 500):  # bounded IN lists
        records += db.session.scalars(pending_records(user).where(ServiceRecord.id.in_(record_ids[start:start + 500]),
                                                                  Visit.flags.is_(None))).all()
    confirmed = 0
    for record in records:
        try:
            confirm_record(record, user, now)
        except ServiceError:
            continue  # confirmed by someone else a moment ago
        confirmed += 1
    return confirmed


def confirmed_minutes(volunteer_id: int) -> int:
    """The sum of a volunteer's confirmed service minutes (unconfirmed records do not count)."""
    return int(db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(ServiceRecord.minutes), 0))
        .where(ServiceRecord.volunteer_id == volunteer_id, ServiceRecord.confirmed_at.is_not(None))
    ))


def records_of(volunteer_id: int) -> sa.Select:
    """A volunteer's service records, newest first (for a paginated list)."""
    return sa.select(ServiceRecord).where(ServiceRecord.volunteer_id == volunteer_id).order_by(
        ServiceRecord.served_on.desc(), ServiceRecord.id.desc())


# ---- star levels (national rule: 1 star at 100 confirmed hours ... 5 stars at 1,500) ----------------------------

STAR_HOURS = (100, 300, 600, 1000, 1500)  # confirmed hours for 1, 2, 3, 4 and 5 stars


@dataclass(frozen=True)
class StarLevel:
    """A volunteer's star level (0-5) by confirmed hours, and the way to the next level."""

    stars: int
    hours: float
    next_stars: int | None
    next_hours: int | None

    @property
    def hours_to_next(self) -> float:
        """Hours still to serve for the next level (0 at 5 stars)."""
        return max(0.0, round((self.next_hours or 0) - self.hours, 2)) if self.next_hours else 0.0

    @property
    def progress(self) -> float:
        """Progress from this level's threshold to the next, 0..1 (1 at 5 stars)."""
        if self.next_hours is None:
            return 1.0
        low = STAR_HOURS[self.stars - 1] if self.stars else 0
        return min(1.0, max(0.0, (self.hours - low) / (self.next_hours - low)))


def star_level(minutes: int) -> StarLevel:
    """The star level for confirmed service minutes (platform hours; no other source of hours exists yet)."""
    hours_done = round(minutes / 60, 2)
    stars = sum(1 for threshold in STAR_HOURS if hours_done >= threshold)
    if stars == len(STAR_HOURS):
        return StarLevel(stars, hours_done, None, None)
    return StarLevel(stars, hours_done, stars + 1, STAR_HOURS[stars])


# ---- staff confirmation in bulk ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class RecordFilter:
    """Which pending records a staff page shows: town, service category, service dates (inclusive)."""

    town_id: int | None = None
    category_id: int | None = None
    served_from: date | None = None
    served_to: date | None = None

    def where(self) -> list[sa.ColumnElement[bool]]:
        """The filter's SQL conditions (over ServiceRecord joined to Visit, Order, ServiceItem, Household)."""
        conditions = []
        if self.town_id:
            conditions.append(Household.town_id == self.town_id)
        if self.category_id:
            conditions.append(ServiceItem.category_id == self.category_id)
        if self.served_from:
            conditions.append(ServiceRecord.served_on >= self.served_from)
        if self.served_to:
            conditions.append(ServiceRecord.served_on <= self.served_to)
        return conditions


@dataclass(frozen=True)
class BulkSummary:
    """What confirming every matching record would do: N records for M people, up to the newest record id seen."""

    records: int
    people: int
    minutes: int
    flagged: int
    max_id: int


def bulk_candidates(user: User, filters: RecordFilter, max_id: int | None = None) -> sa.Select:
    """Pending records in scope matching the filter that may be confirmed in bulk (flagged visits never are)."""
    query = pending_records(user).where(Visit.flags.is_(None), *filters.where())
    return query.where(ServiceRecord.id <= max_id) if max_id is not None else query


def bulk_summary(user: User, filters: RecordFilter) -> BulkSummary:
    """How many records for how many volunteers (and minutes) a bulk confirmation would confirm now."""
    ids = bulk_candidates(user, filters).with_only_columns(
        ServiceRecord.id, ServiceRecord.volunteer_id, ServiceRecord.minutes).order_by(None).subquery()
    records, people, minutes, max_id = db.session.execute(sa.select(
        sa.func.count(ids.c.id), sa.func.count(sa.distinct(ids.c.volunteer_id)),
        sa.func.coalesce(sa.func.sum(ids.c.minutes), 0), sa.func.coalesce(sa.func.max(ids.c.id), 0))).one()
    flagged_q = pending_records(user).where(Visit.flags.is_not(None), *filters.where()).with_only_columns(
        sa.func.count(ServiceRecord.id)).order_by(None)
    return BulkSummary(records=records, people=people, minutes=int(minutes), flagged=db.session.scalar(flagged_q),
                       max_id=max_id)


def confirm_matching(user: User, filters: RecordFilter, max_id: int, now: datetime) -> int:
    """Confirm every pending, unflagged record in scope matching the filter with an id up to `max_id` (the records
    the staff member was asked about, not ones that arrived since); returns how many were confirmed."""
    ids = list(db.session.scalars(bulk_candidates(user, filters, max_id).with_only_columns(ServiceRecord.id)))
    return confirm_records(user, ids, now)


def pending_records(user: User) -> sa.Select:
    """Unconfirmed records of visits to households in a staff user's scope, oldest first (joined to Visit, Order,
    ServiceItem and Household, for filters)."""
    return (sa.select(ServiceRecord).join(Visit, Visit.id == ServiceRecord.visit_id)
            .join(Order, Order.id == Visit.order_id).join(ServiceItem).join(Household)
            .where(ServiceRecord.confirmed_at.is_(None), household_filter(user))
            .order_by(ServiceRecord.served_on, ServiceRecord.id))
