"""The API's views: thin like the portals' (parse with the schemas, call a service, commit, answer).
The blueprint object and its documentation decorators live here; the routes are in ROUTES (__init__.py)."""
from __future__ import annotations

from flask import abort
from flask_smorest import Blueprint
from marshmallow import RAISE
from sqlalchemy.orm import contains_eager, joinedload, selectinload

from socialforce.platform.extensions import db
from socialforce.platform.models import Household, Order, OrderState, ServiceItem, VolunteerTask, utcnow
from socialforce.platform.scoping import get_provider_order_or_404, provider_orders
from socialforce.platform.services import ServiceError, dispatch, households, volunteer_tasks, volunteers
from socialforce.platform.transactions import run_in_transaction
from socialforce.portals.api import schemas as s
from socialforce.portals.api.auth import current_token, require
from socialforce.portals.api.idempotency import HEADER_DOC, idempotent
from socialforce.portals.api.paging import page_of, page_of_list
from socialforce.portals.api.problems import problem
from socialforce.portals.page_helpers import bilingual
from socialforce.portals.provider.access import ADMIN_ROLES

bp = Blueprint("api", __name__, description="Socialforce JSON API v1 (bearer tokens)")
ERRORS = (401, 403, 404, 405, 413, 422, 429, 500)
WRITE_ERRORS = (*ERRORS, 409)
# what a page of rows shows beyond its own table, read with the page (joined) instead of one query per row
_PLACE_LOADS = (joinedload(Household.town, innerjoin=True), joinedload(Household.village, innerjoin=True))
ORDER_LOADS = joinedload(Order.item, innerjoin=True).options(
    joinedload(ServiceItem.category, innerjoin=True),
    joinedload(ServiceItem.household, innerjoin=True).options(*_PLACE_LOADS))
ORDER_JOINED = contains_eager(Order.item).options(
    joinedload(ServiceItem.category, innerjoin=True), contains_eager(ServiceItem.household).options(*_PLACE_LOADS))
"""ORDER_LOADS for a query already joined to the order's item and household (the scoped lists are): no second join."""
HOUSEHOLD_LOADS = (*_PLACE_LOADS, selectinload(Household.members))


def _errors(*codes: int):
    """Document the problem-details answers an operation may give."""
    def decorate(view):
        for code in codes:
            view = bp.alt_response(code, schema=s.Problem, content_type="application/problem+json")(view)
        return view
    return decorate


def _service_problem(e: ServiceError):
    """A refused operation as a problem (409 by default; a field error as 422 with its path)."""
    if e.field:
        return problem(422, e.message, [{"path": f"json/{e.field}", "message": e.message}])
    return problem(e.status if e.status >= 400 else 409, e.message)


# ------------------------------------------------------------------ me
@bp.response(200, s.Me)
@_errors(*ERRORS)
def me():
    """The token's user, the token's scopes and expiry."""
    token = current_token()
    user = token.user
    return {"id": user.id, "username": user.username, "display_name": user.display_name, "role": str(user.role),
            "locale": user.locale, "scopes": token.scope_list, "token_expires_at": token.expires_at}


# ------------------------------------------------------------------ volunteer
def _task_row(r: volunteer_tasks.RankedTask) -> dict:
    household = r.item.household
    return {"task_id": r.task.id, "order_id": r.task.order_id, "item_id": r.item.id,
            "category": bilingual(r.item.category), "town": bilingual(household.town),
            "village": household.village.name, "description": r.item.description, "starts_at": r.task.starts_at,
            "slots": r.task.slots, "places_left": r.task.slots - r.task.taken, "score": r.candidate.score}


@bp.arguments(s.PageQuery, location="query", unknown=RAISE)
@bp.response(200, s.TaskPage)
@_errors(*ERRORS)
def volunteer_tasks_list(args: dict):
    """Open tasks ranked for me (best first), with times and places left."""
    me = volunteers.volunteer_of(require("volunteer:read"))
    return page_of_list(volunteer_tasks.ranked_tasks(me, k=100), args["page"], _task_row)


def _signup_result(task_id: int, me) -> dict:
    task = db.session.get(VolunteerTask, task_id)
    return {"task_id": task_id, "signed_up": dispatch.signed_up_task(task_id, me) is not None,
            "places_left": task.slots - task.taken}


@idempotent
@bp.doc(parameters=[HEADER_DOC])
@bp.response(200, s.SignupResult)
@_errors(*WRITE_ERRORS)
def volunteer_task_signup(task_id: int):
    """Take one place of a task that fits me."""
    me = volunteers.volunteer_of(require("volunteer:write"))
    try:
        run_in_transaction(lambda: volunteer_tasks.sign_up_if_fitting(task_id, me))
    except ServiceError as e:
        return _service_problem(e)
    return _signup_result(task_id, me)


@idempotent
@bp.doc(parameters=[HEADER_DOC])
@bp.arguments(s.WithdrawBody, required=False)
@bp.response(200, s.SignupResult)
@_errors(*WRITE_ERRORS)
def volunteer_task_withdraw(body: dict, task_id: int):
    """Give my place on a task back (after acceptance with a reason)."""
    user = require("volunteer:write")
    me = volunteers.volunteer_of(user)
    if dispatch.signed_up_task(task_id, me) is None:
        abort(404)
    try:
        run_in_transaction(lambda: dispatch.withdraw(task_id, me, user, body.get("reason", ""), utcnow()))
    except ServiceError as e:
        return _service_problem(e)
    return _signup_result(task_id, me)


# ------------------------------------------------------------------ provider (agency or pairing unit)
def _order_row(o: Order) -> dict:
    return {"id": o.id, "item_id": o.item_id, "state": str(o.state), "category": bilingual(o.item.category),
            "village": o.item.household.village.name, "expected_hours": o.expected_hours,
            "assignee_id": o.assignee_id, "dispatched_at": o.dispatched_at, "response_due_at": o.response_due_at}


@bp.arguments(s.OrderQuery, location="query", unknown=RAISE)
@bp.response(200, s.ProviderOrderPage)
@_errors(*ERRORS)
def provider_orders_list(args: dict):
    """My organisation's orders (a worker: those assigned to them), newest first, filterable by state."""
    user = require("provider:read")
    query = provider_orders(user).order_by(Order.id.desc()).options(ORDER_LOADS)
    if args.get("state"):
        query = query.where(Order.state == OrderState(args["state"]))
    return page_of(query, args["page"], _order_row)


def _order_answer(order_id: int, user, work):
    order = get_provider_order_or_404(order_id, user)
    try:
        run_in_transaction(lambda: work(order))
    except ServiceError as e:
        return _service_problem(e)
    return _order_row(get_provider_order_or_404(order_id, user))


@idempotent
@bp.doc(parameters=[HEADER_DOC])
@bp.arguments(s.AcceptBody)
@bp.response(200, s.ProviderOrder)
@_errors(*WRITE_ERRORS)
def provider_order_accept(body: dict, order_id: int):
    """Accept a dispatched order, naming the worker who will serve it (the organisation's administrator)."""
    user = require("provider:write", ADMIN_ROLES)
    return _order_answer(order_id, user, lambda o: dispatch.accept(o, user, body["assignee_id"]))


@idempotent
@bp.doc(parameters=[HEADER_DOC])
@bp.arguments(s.DeclineBody)
@bp.response(200, s.ProviderOrder)
@_errors(*WRITE_ERRORS)
def provider_order_decline(body: dict, order_id: int):
    """Decline a dispatched order with a reason; it goes to the next candidate (the organisation's administrator)."""
    user = require("provider:write", ADMIN_ROLES)
    return _order_answer(order_id, user, lambda o: dispatch.decline(o, user, body["reason"]))


# ------------------------------------------------------------------ staff
def _household_row(h) -> dict:
    return {"id": h.id, "code": h.code, "town": bilingual(h.town), "village": h.village.name,
            "head_name": h.head_name, "phone_masked": h.phone_masked, "lives_alone_elderly": h.lives_alone_elderly,
            "members": len(h.members)}


@bp.arguments(s.HouseholdQuery, location="query", unknown=RAISE)
@bp.response(200, s.HouseholdPage)
@_errors(*ERRORS)
def staff_households(args: dict):
    """Households in my towns (city staff: all), masked, by head or member name."""
    user = require("staff:read")
    return page_of(households.search(user, args.get("q")).options(*HOUSEHOLD_LOADS), args["page"], _household_row)


__all__ = ["bp"]
