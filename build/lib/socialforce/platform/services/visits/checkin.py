"""Visit check-in and check-out, with plausibility flags.

The order's first check-in moves it scheduled -> in_service exactly once (orders.advance), so sibling volunteers
checking in at the same moment all succeed. A visit that looks implausible is accepted but flagged
(`plausibility_flags`, stored in Visit.flags at check-in and check-out): a check-out within VISIT_MIN_MINUTES of
check-in, a check-in more than VISIT_CHECKIN_DRIFT_HOURS from the planned start, or a check-in or check-out position
more than VISIT_MAX_DISTANCE_KM from the village's coordinates.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from socialforce.matching.geo import distance_km
from socialforce.platform.extensions import db
from socialforce.platform.models import ItemStatus, OrderState, User, Visit, VisitStatus
from socialforce.platform.models.orders import LIVE_STATES
from socialforce.platform.services import ServiceError, audit, hours, orders

CHECKIN_EARLY = timedelta(hours=1)  # check-in opens this long before the start
VISIT_FLAGS = ("short_stay", "off_schedule", "far_away")  # stored in this order, space-separated


def _check_coordinates(lat: float | None, lon: float | None) -> tuple[float | None, float | None]:
    if lat is None or lon is None:
        return None, None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ServiceError(_("The location is not valid."), status=400)
    return round(lat, 6), round(lon, 6)


def plausibility_flags(visit: Visit) -> str | None:
    """Why the recorded visit could not have happened as recorded, from its check-in/out and the thresholds in
    config (VISIT_MIN_MINUTES, VISIT_CHECKIN_DRIFT_HOURS, VISIT_MAX_DISTANCE_KM); None when nothing is odd."""
    config = current_app.config
    found = set()
    if visit.checkin_at is not None and visit.checkout_at is not None and (
            visit.checkout_at - visit.checkin_at < timedelta(minutes=config["VISIT_MIN_MINUTES"])):
        found.add("short_stay")
    if visit.checkin_at is not None and (
            abs(visit.checkin_at - visit.starts_at) > timedelta(hours=config["VISIT_CHECKIN_DRIFT_HOURS"])):
        found.add("off_schedule")
    village = visit.order.item.household.village
    positions = [(visit.checkin_lat, visit.checkin_lon), (visit.checkout_lat, visit.checkout_lon)]
    if any(lat is not None and lon is not None
           and distance_km(lat, lon, village.lat, village.lon) > config["VISIT_MAX_DISTANCE_KM"]
           for lat, lon in positions):
        found.add("far_away")
    return " ".join(code for code in VISIT_FLAGS if code in found) or None


def _flag(visit: Visit) -> str | None:
    """Store the visit's plausibility flags (after a check-in or check-out); returns them."""
    visit.flags = plausibility_flags(visit)
    db.session.flush()
    return visit.flags


def check_in(visit: Visit, actor: User, now: datetime, lat: float | None = None, lon: float | None = None) -> Visit:
    """Check in (from an hour before the start); the order's first check-in moves it scheduled -> in_service."""
    if now < visit.starts_at - CHECKIN_EARLY:
        raise ServiceError(_("Check-in opens one hour before the visit starts."))
    lat, lon = _check_coordinates(lat, lon)
    db.session.refresh(visit.order)
    if OrderState(visit.order.state) not in LIVE_STATES:
        raise ServiceError(_("This order is finished or cancelled; its visits cannot be checked in."))
    done = db.session.execute(
        sa.update(Visit).where(Visit.id == visit.id, Visit.status == VisitStatus.planned)
        .values(status=VisitStatus.checked_in, checkin_at=now, checkin_lat=lat, checkin_lon=lon)
        .execution_options(synchronize_session=False))
    if done.rowcount != 1:
        raise ServiceError(_("This visit can no longer be checked in."))
    db.session.refresh(visit)
    order = visit.order
    db.session.refresh(order)
    if order.state == OrderState.scheduled:
        orders.advance(order, OrderState.in_service, actor, reason="first check-in", now=now)
    if order.item.status in (ItemStatus.open, ItemStatus.dispatched):
        order.item.status = ItemStatus.in_service
    audit.record("visit_checked_in", actor, "visit", visit.id, located=lat is not None, flags=_flag(visit))
    return visit


def check_out(visit: Visit, actor: User, now: datetime, lat: float | None = None, lon: float | None = None,
              notes: str | None = None) -> Visit:
    """Check out: completes the visit; a volunteer's visit gets an (unconfirmed) service record."""

    lat, lon = _check_coordinates(lat, lon)
    values = {"status": VisitStatus.completed, "checkout_at": now, "checkout_lat": lat, "checkout_lon": lon}
    if notes and notes.strip():
        values["notes"] = notes.strip()[:2000]
    done = db.session.execute(
        sa.update(Visit).where(Visit.id == visit.id, Visit.status == VisitStatus.checked_in, Visit.checkin_at <= now)
        .values(**values).execution_options(synchronize_session=False))
    if done.rowcount != 1:
        raise ServiceError(_("Check in before checking out."))
    db.session.refresh(visit)
    flags = _flag(visit)
    if visit.volunteer_id is not None:
        hours.create_record(visit)
    audit.record("visit_checked_out", actor, "visit", visit.id, located=lat is not None, flags=flags)
    return visit


def save_notes(visit: Visit, notes: str, actor: User) -> Visit:
    """Replace a visit's notes (at most 2,000 characters)."""
    notes = (notes or "").strip()
    if len(notes) > 2000:
        raise ServiceError(_("Notes are limited to 2,000 characters."), status=400, field="notes")
    visit.notes = notes or None
    db.session.flush()
    audit.record("visit_notes", actor, "visit", visit.id)
    return visit
