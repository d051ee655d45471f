"""Volunteer service hours (服务时长): the rounding rule, service records, confirmation and the hours certificate.

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

import hashlib
import hmac
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from socialforce.platform.extensions import db
from socialforce.platform.i18n import local_time
from socialforce.platform.models import Household, Order, ServiceItem, ServiceRecord, User, Visit, Volunteer
from socialforce.platform.scoping import household_filter
from socialforce.platform.services import ServiceError, audit

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
    """The unconfirmed service record of a volunteer's completed visit (date, village, content, rounded minutes)."""
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
    records = db.session.scalars(pending_records(user).where(ServiceRecord.id.in_(record_ids),
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


@dataclass(frozen=True)
class Certificate:
    """The data printed on a volunteer's hours certificate."""

    name: str
    id_masked: str
    total_minutes: int
    records: list[ServiceRecord]
    issuer: str
    issued_on: date
    code: str

    @property
    def total_hours(self) -> float:
        """Confirmed hours, to two decimals."""
        return round(self.total_minutes / 60, 2)


def certificate_code(volunteer_id: int, total_minutes: int, record_count: int, issued_on: date) -> str:
    """A verification code over the certificate's content, keyed by the app's secret (recomputable to verify)."""
    message = f"{volunteer_id}:{total_minutes}:{record_count}:{issued_on.isoformat()}".encode()
    digest = hmac.new(current_app.config["SECRET_KEY"].encode(), message, hashlib.sha256).hexdigest().upper()
    return "-".join(digest[i:i + 4] for i in range(0, 16, 4))


def certificate(volunteer: Volunteer, now: datetime) -> Certificate:
    """A volunteer's hours certificate: masked ID, confirmed records and total, issuer, date and code."""
    records = list(db.session.scalars(
        sa.select(ServiceRecord).where(ServiceRecord.volunteer_id == volunteer.id,
                                       ServiceRecord.confirmed_at.is_not(None))
        .order_by(ServiceRecord.served_on, ServiceRecord.id)
    ))
    total = sum(r.minutes for r in records)
    issued_on = date.fromisoformat(local_time(now, "%Y-%m-%d"))
    return Certificate(
        name=volunteer.real_name, id_masked=volunteer.id_masked, total_minutes=total, records=records,
        issuer=_("Tengzhou Civil Affairs Bureau, Social Assistance Service Centre"), issued_on=issued_on,
        code=certificate_code(volunteer.id, total, len(records), issued_on),
    )


def pending_records(user: User) -> sa.Select:
    """Unconfirmed records of visits to households in a staff user's scope, oldest first."""
    return (sa.select(ServiceRecord).join(Visit, Visit.id == ServiceRecord.visit_id)
            .join(Order, Order.id == Visit.order_id).join(ServiceItem).join(Household)
            .where(ServiceRecord.confirmed_at.is_(None), household_filter(user))
            .order_by(ServiceRecord.served_on, ServiceRecord.id))
