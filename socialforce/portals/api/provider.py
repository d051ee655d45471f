"""The agency's and pairing unit's resources of /api/v1 beyond the order list and accept/decline (views.py): an
order with its visits and outcomes, the organisation's workers, visit planning, the caller's visits with
check-in/out, the provider's outcome and the capacity offers. Scoping is the provider portal's
(`provider_orders`, `scoped_visits`); the administrator-only pages are administrator-only here too."""
from __future__ import annotations

from flask import abort
from marshmallow import RAISE
from sqlalchemy.orm import selectinload

from socialforce.platform.extensions import db
from socialforce.platform.localtime import today
from socialforce.platform.models import (
    EvaluationSource,
    MemberRole,
    OfferStatus,
    Order,
    ProviderMember,
    Role,
    ServiceOffer,
    utcnow,
)
from socialforce.platform.scoping import get_provider_order_or_404
from socialforce.platform.services import ServiceError, offers, outcomes, visits
from socialforce.platform.services import provider_profiles as profiles
from socialforce.platform.transactions import run_in_transaction
from socialforce.portals.api import schemas as s
from socialforce.portals.api.auth import require
from socialforce.portals.api.idempotency import HEADER_DOC, idempotent
from socialforce.portals.api.paging import page_of
from socialforce.portals.api.problems import problem
from socialforce.portals.api.views import ERRORS, WRITE_ERRORS, _errors, _order_row, _service_problem, bp
from socialforce.portals.api.visits import change, check, visit_answer, visit_page, visit_row
from socialforce.portals.page_helpers import bilingual
from socialforce.portals.provider.access import ADMIN_ROLES
from socialforce.portals.routing import GET, POST

WORKER_ROLE_OF_ADMIN = {Role.agency_admin: MemberRole.social_worker, Role.unit_admin: MemberRole.cadre}
VISITING_ROLES = (Role.social_worker, Role.cadre)  # only a visit's own worker checks in and out (as on its page)


def _detail(order: Order) -> dict:
    return {**_order_row(order), "description": order.item.description,
            "town": bilingual(order.item.household.town),
            "visits": [visit_row(v) for v in visits.order_visits(order)],
            "outcomes": [{"source": str(o.source), "resolved": str(o.resolved), "goal_attainment": o.goal_attainment,
                          "assessment": o.assessment, "follow_up_item_id": o.follow_up_item_id,
                          "recorded_at": o.recorded_at} for o in outcomes.outcomes_of(order)]}


@bp.response(200, s.OrderDetail)
@_errors(*ERRORS)
def order_detail(order_id: int):
    """One of my organisation's orders (a worker: assigned to me) with its visits and outcomes."""
    return _detail(get_provider_order_or_404(order_id, require("provider:read")))


def _worker_row(m: ProviderMember) -> dict:
    return {"id": m.id, "name": m.name, "role": str(m.role), "certificate_level": m.certificate_level,
            "phone_masked": m.phone_masked, "active": m.active}


@bp.arguments(s.WorkerQuery, location="query", unknown=RAISE)
@bp.response(200, s.WorkerPage)
@_errors(*ERRORS)
def worker_list(args: dict):
    """My organisation's social workers (agency) or cadres (unit), active first (its administrator)."""
    user = require("provider:read", ADMIN_ROLES)
    query = profiles.members_query(user.provider, WORKER_ROLE_OF_ADMIN[user.role])
    if "active" in args:
        query = query.where(ProviderMember.active == args["active"])
    return page_of(query, args["page"], _worker_row)


@idempotent
@bp.doc(parameters=[HEADER_DOC])
@bp.arguments(s.PlanBody)
@bp.response(201, s.Visit)
@_errors(*WRITE_ERRORS)
def visit_plan(body: dict, order_id: int):
    """Plan a visit (or a series) of an accepted order for its worker; refuses past times and double-booking."""
    user = require("provider:write")
    order = get_provider_order_or_404(order_id, user)
    try:
        visit_id = run_in_transaction(lambda: visits.plan_visit(
            order, visits.order_assignee(order), body["starts_at"], body["duration"], user, utcnow(),
            repeat=body["repeat"], count=body["count"]).id)
    except ServiceError as e:
        return _service_problem(e)
    return visit_answer(visit_id, user), 201


@bp.arguments(s.VisitQuery, location="query", unknown=RAISE)
@bp.response(200, s.VisitPage)
@_errors(*ERRORS)
def visit_list(args: dict):
    """My organisation's visits (a worker: mine), soonest first, by status and order."""
    return visit_page(require("provider:read"), args)


@idempotent
@bp.doc(parameters=[HEADER_DOC])
@bp.arguments(s.Position, required=False)
@bp.response(200, s.Visit)
@_errors(*WRITE_ERRORS)
def visit_checkin(body: dict, visit_id: int):
    """Check in to my visit (its worker; from an hour before it starts), with my position if I give it."""
    return check(require("provider:write", VISITING_ROLES), visit_id, "checkin", body)


@idempotent
@bp.doc(parameters=[HEADER_DOC])
@bp.arguments(s.CheckOutBody, required=False)
@bp.response(200, s.Visit)
@_errors(*WRITE_ERRORS)
def visit_checkout(body: dict, visit_id: int):
    """Check out of my visit (its worker), with my position and notes."""
    return check(require("provider:write", VISITING_ROLES), visit_id, "checkout", body)


@idempotent
@bp.doc(parameters=[HEADER_DOC])
@bp.arguments(s.OutcomeBody)
@bp.response(200, s.OrderDetail)
@_errors(*WRITE_ERRORS)
def outcome_record(body: dict, order_id: int):
    """Record the provider's outcome once the order's visits are done; it completes the order."""
    user = require("provider:write")
    order = get_provider_order_or_404(order_id, user)
    data = outcomes.OutcomeInput(**body)
    try:
        run_in_transaction(lambda: outcomes.record_outcome(order, EvaluationSource.provider, data, user, utcnow()))
    except ServiceError as e:
        return _service_problem(e)
    return _detail(get_provider_order_or_404(order_id, user))


def _offer_row(o) -> dict:
    return {"id": o.id, "title": o.title, "description": o.description, "slots_per_week": o.slots_per_week,
            "windows": o.windows, "valid_from": o.valid_from, "valid_to": o.valid_to, "status": str(o.status),
            "category_ids": sorted(c.id for c in o.categories), "town_ids": sorted(t.id for t in o.towns)}


def _offer_refused(e: offers.OfferInvalid):
    """The offer page's messages as a problem: 400 (the service's refusal), every bad field with its path."""
    return problem(400, e.message, [{"path": f"json/{field}", "message": message}
                                    for field, message in e.errors.items()])


def _offer_write(user, work):
    """Run an offer change (the service call `work`): the offer as it now is, or the offer page's refusal."""
    db.session.commit()  # end the read transaction before the change
    try:
        offer_id = run_in_transaction(lambda: work().id)
    except offers.OfferInvalid as e:
        return _offer_refused(e)
    except ServiceError as e:
        return _service_problem(e)
    return _offer_row(offers.get_offer(offer_id, user))


def _offer_input(body: dict) -> offers.OfferInput:
    return offers.OfferInput(**{**body, "category_ids": tuple(body["category_ids"]),
                                "town_ids": tuple(body["town_ids"])})


@idempotent
@bp.doc(parameters=[HEADER_DOC])
@bp.arguments(s.OfferBody)
@bp.response(201, s.Offer)
@_errors(*WRITE_ERRORS, 400)
def offer_create(body: dict):
    """Publish a new active offer of my organisation (its administrator), checked as the offer page checks it."""
    user = require("provider:write", ADMIN_ROLES)
    provider = user.provider or abort(404)
    answer = _offer_write(user, lambda: offers.publish(provider, _offer_input(body), user, today()))
    return (answer, 201) if isinstance(answer, dict) else answer


@idempotent
@bp.doc(parameters=[HEADER_DOC])
@bp.arguments(s.OfferBody)
@bp.response(200, s.Offer)
@_errors(*WRITE_ERRORS, 400)
def offer_update(body: dict, offer_id: int):
    """Replace the fields of one of my organisation's offers (its administrator; its status stays)."""
    user = require("provider:write", ADMIN_ROLES)
    offer = offers.get_offer(offer_id, user) or abort(404)
    return _offer_write(user, lambda: offers.update(offer, _offer_input(body), user, today()))


@bp.arguments(s.OfferQuery, location="query", unknown=RAISE)
@bp.response(200, s.OfferPage)
@_errors(*ERRORS)
def offer_list(args: dict):
    """My organisation's capacity offers, newest first, by status."""
    user = require("provider:read")
    if user.provider_id is None:
        abort(404)
    status = OfferStatus(args["status"]) if args.get("status") else None
    query = offers.offers_query(user.provider_id, status).options(selectinload(ServiceOffer.categories),
                                                                   selectinload(ServiceOffer.towns))
    return page_of(query, args["page"], _offer_row)


def _offer_status(offer_id: int, change) -> dict:
    user = require("provider:write", ADMIN_ROLES)
    offer = offers.get_offer(offer_id, user) or abort(404)
    try:
        run_in_transaction(lambda: change(offer, user))
    except ServiceError as e:  # an ended or no longer qualified offer is a state to change first: 409, not 400
        return problem(409, e.message)
    return _offer_row(offers.get_offer(offer_id, user))


@idempotent
@bp.doc(parameters=[HEADER_DOC])
@bp.response(200, s.Offer)
@_errors(*WRITE_ERRORS)
def offer_pause(offer_id: int):
    """Pause one of my organisation's active offers: no new work is matched to it (its administrator)."""
    return _offer_status(offer_id, offers.pause)


@idempotent
@bp.doc(parameters=[HEADER_DOC])
@bp.response(200, s.Offer)
@_errors(*WRITE_ERRORS)
def offer_resume(offer_id: int):
    """Resume one of my organisation's paused offers (its administrator; refused once it has expired)."""
    return _offer_status(offer_id, lambda offer, user: offers.resume(offer, user, today()))


@idempotent
@bp.doc(parameters=[HEADER_DOC])
@bp.arguments(s.NotesBody)
@bp.response(200, s.Visit)
@_errors(*WRITE_ERRORS)
def visit_notes(body: dict, visit_id: int):
    """Replace the notes of my organisation's (a worker: my own) visit."""
    return change(require("provider:write"), visit_id, "notes", body)


@idempotent
@bp.doc(parameters=[HEADER_DOC])
@bp.arguments(s.RescheduleBody)
@bp.response(200, s.Visit)
@_errors(*WRITE_ERRORS)
def visit_reschedule(body: dict, visit_id: int):
    """Move a planned visit of my organisation's (a worker: my own) to a later time, with a reason; refuses past times and double-booking."""
    return change(require("provider:write"), visit_id, "reschedule", body)


@idempotent
@bp.doc(parameters=[HEADER_DOC])
@bp.arguments(s.VisitCancelBody)
@bp.response(200, s.Visit)
@_errors(*WRITE_ERRORS)
def visit_cancel(body: dict, visit_id: int):
    """Cancel a planned visit of my organisation's (a worker: my own) with a reason (with `following`, the rest of its series too)."""
    return change(require("provider:write"), visit_id, "cancel", body)


ROUTES = [  # (rule, endpoint, view, methods)
    ("/provider/orders/<int:order_id>", "provider_order", order_detail, GET),
    ("/provider/orders/<int:order_id>/visits", "provider_visit_plan", visit_plan, POST),
    ("/provider/orders/<int:order_id>/outcome", "provider_outcome", outcome_record, POST),
    ("/provider/workers", "provider_workers", worker_list, GET),
    ("/provider/visits", "provider_visits", visit_list, GET),
    ("/provider/visits/<int:visit_id>/checkin", "provider_visit_checkin", visit_checkin, POST),
    ("/provider/visits/<int:visit_id>/checkout", "provider_visit_checkout", visit_checkout, POST),
    ("/provider/visits/<int:visit_id>/notes", "provider_visit_notes", visit_notes, POST),
    ("/provider/visits/<int:visit_id>/reschedule", "provider_visit_reschedule", visit_reschedule, POST),
    ("/provider/visits/<int:visit_id>/cancel", "provider_visit_cancel", visit_cancel, POST),
    ("/provider/offers", "provider_offers", offer_list, GET),
    ("/provider/offers", "provider_offer_create", offer_create, POST),
    ("/provider/offers/<int:offer_id>", "provider_offer_update", offer_update, POST),
    ("/provider/offers/<int:offer_id>/pause", "provider_offer_pause", offer_pause, POST),
    ("/provider/offers/<int:offer_id>/resume", "provider_offer_resume", offer_resume, POST),
]
