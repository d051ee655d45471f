"""Visits through the API, shared by the volunteer and provider resources: a visit's row, the caller's visits
(paged, filterable), check-in / check-out with an optional position, and notes, reschedule and cancel, through the
portals' visit services."""
from __future__ import annotations

from flask import abort
from flask_babel import gettext as _
from sqlalchemy.orm import contains_eager

from socialforce.platform.extensions import db
from socialforce.platform.models import Order, User, Visit, VisitStatus, utcnow
from socialforce.platform.services import ServiceError, visits
from socialforce.platform.transactions import run_in_transaction
from socialforce.portals.api.paging import page_of
from socialforce.portals.api.problems import problem
from socialforce.portals.api.views import ORDER_JOINED, _service_problem
from socialforce.portals.page_helpers import bilingual
from socialforce.portals.visits import owns_visit


def visit_row(v: Visit) -> dict:
    """A visit as the API shows it (the village and category; no address, no coordinates)."""
    item = v.order.item
    return {"id": v.id, "order_id": v.order_id, "status": str(v.status), "starts_at": v.starts_at,
            "ends_at": v.ends_at, "checkin_at": v.checkin_at, "checkout_at": v.checkout_at,
            "checkin_located": v.checkin_lat is not None, "checkout_located": v.checkout_lat is not None,
            "village": item.household.village.name, "category": bilingual(item.category),
            "flags": (v.flags or "").split()}


VISIT_LOADS = contains_eager(Visit.order).options(ORDER_JOINED)  # scoped_visits joins the order, item and household


def visit_answer(visit_id: int, user: User) -> dict:
    """The row of one visit in the caller's scope, read with what it shows (the answer of a visit write)."""
    return visit_row(db.session.scalar(visits.scoped_visits(user).where(Visit.id == visit_id).options(VISIT_LOADS)))


def visit_page(user: User, args: dict) -> dict:
    """The caller's visits in scope, soonest first, by status and order."""
    query = visits.scoped_visits(user).order_by(Visit.starts_at, Visit.id).options(VISIT_LOADS)
    if args.get("status"):
        query = query.where(Visit.status == VisitStatus(args["status"]))
    if args.get("order_id"):
        query = query.where(Order.id == args["order_id"])
    return page_of(query, args["page"], visit_row)


def check(user: User, visit_id: int, action: str, body: dict):
    """Check in or out of one of the caller's own visits (404 outside the scope, 403 someone else's)."""
    visit = visits.get_visit(visit_id, user) or abort(404)
    if not owns_visit(visit, user):
        abort(403)
    lat, lon = body.get("lat"), body.get("lon")
    if (lat is None) != (lon is None):
        message = _("Give both lat and lon, or neither.")
        return problem(422, message, [{"path": "json/lon" if lon is None else "json/lat", "message": message}])
    now = utcnow()
    try:
        if action == "checkin":
            run_in_transaction(lambda: visits.check_in(visit, user, now, lat, lon))
        else:
            run_in_transaction(lambda: visits.check_out(visit, user, now, lat, lon, body.get("notes")))
    except ServiceError as e:
        return _service_problem(e)
    return visit_answer(visit_id, user)


def change(user: User, visit_id: int, action: str, body: dict):
    """Save notes on, reschedule or cancel a visit in the caller's scope (as its page allows; 404 outside it)."""
    visit = visits.get_visit(visit_id, user) or abort(404)
    now = utcnow()
    try:
        if action == "notes":
            run_in_transaction(lambda: visits.save_notes(visit, body["notes"], user))
        elif action == "reschedule":
            run_in_transaction(lambda: visits.reschedule(visit, body["starts_at"], body["duration"], body["reason"],
                                                         user, now))
        else:
            run_in_transaction(lambda: visits.cancel(visit, body["reason"], user, now, following=body["following"]))
    except ServiceError as e:
        return _service_problem(e)
    return visit_answer(visit_id, user)
