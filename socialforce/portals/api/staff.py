"""Civil-affairs staff's resources of /api/v1 beyond the household list (views.py): a household with its members
(masked; no reveal through the API), service items, the ranking with reasons, dispatch, the orders board, the
dashboard figures and an import's status. Scoping is the staff portal's (`platform/scoping.py`: town staff their
town, city staff all; an import is its uploader's own)."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, current_app
from flask_babel import gettext as _
from marshmallow import RAISE
from sqlalchemy.orm import contains_eager

from socialforce.platform.extensions import db
from socialforce.platform.localtime import today
from socialforce.platform.models import (
    BackgroundJob,
    Frequency,
    Order,
    Priority,
    Provider,
    ServiceItem,
    utcnow,
)
from socialforce.platform.scoping import get_household_or_404, get_item_or_404
from socialforce.platform.services import (
    ServiceError,
    background,
    batch_dispatch,
    dashboard,
    dispatch,
    imports,
    items,
    matching,
    order_search,
    volunteer_tasks,
)
from socialforce.platform.transactions import run_in_transaction
from socialforce.portals.api import schemas as s
from socialforce.portals.api.auth import require
from socialforce.portals.api.idempotency import HEADER_DOC, idempotent
from socialforce.portals.api.paging import page_of
from socialforce.portals.api.problems import problem
from socialforce.portals.api.views import (
    ERRORS,
    ORDER_JOINED,
    WRITE_ERRORS,
    _errors,
    _household_row,
    _service_problem,
    bp,
)
from socialforce.portals.page_helpers import bilingual
from socialforce.portals.routing import GET, POST
from socialforce.portals.staff.items import SHOWN_CANDIDATES

RANKED = 20  # candidates a dispatch may choose from (as on the item page)


@bp.response(200, s.HouseholdDetail)
@_errors(*ERRORS)
def household_detail(household_id: int):
    """A household in my towns with its members (ID numbers masked) and its service items."""
    h = get_household_or_404(household_id, require("staff:read"))
    members = [{"id": m.id, "name": m.name, "relation": m.relation, "id_masked": m.id_masked, "sex": str(m.sex),
                "birth_year": m.birth_date.year, "disability_grade": m.disability_grade} for m in h.members]
    item_ids = db.session.scalars(sa.select(ServiceItem.id).where(ServiceItem.household_id == h.id)
                                  .order_by(ServiceItem.id))
    return {**_household_row(h), "member_list": members, "item_ids": list(item_ids)}


def _item_row(it: ServiceItem) -> dict:
    order_ids = db.session.scalars(sa.select(Order.id).where(Order.item_id == it.id).order_by(Order.id))
    return {"id": it.id, "household_id": it.household_id, "member_id": it.member_id,
            "category": bilingual(it.category), "category_code": it.category.code, "description": it.description,
            "priority": str(it.priority), "frequency": str(it.frequency), "windows": it.windows,
            "slots_needed": it.slots_needed, "status": str(it.status), "created_at": it.created_at,
            "order_ids": list(order_ids)}


@idempotent
@bp.doc(parameters=[HEADER_DOC])
@bp.arguments(s.ItemBody)
@bp.response(201, s.Item)
@_errors(*WRITE_ERRORS)
def item_create(body: dict, household_id: int):
    """Register a service item on a household's service list."""
    user = require("staff:write")
    household = get_household_or_404(household_id, user)
    data = items.ItemInput(category_id=body["category_id"], description=body["description"],
                           member_id=body["member_id"], priority=Priority(body["priority"]),
                           frequency=Frequency(body["frequency"]), windows=body["windows"],
                           slots_needed=body["slots_needed"])
    try:
        item_id = run_in_transaction(lambda: items.register(household, data, user).id)
    except ServiceError as e:
        return _service_problem(e)
    return _item_row(get_item_or_404(item_id, user)), 201


@bp.response(200, s.Item)
@_errors(*ERRORS)
def item_detail(item_id: int):
    """A service item in my towns with its orders."""
    return _item_row(get_item_or_404(item_id, require("staff:read")))


@bp.response(200, s.Ranking)
@_errors(*ERRORS)
def item_ranking(item_id: int):
    """The organisations ranked for an open item, best first, with the reasons of each score."""
    it = get_item_or_404(item_id, require("staff:read"))
    ranked = matching.rank_item(it, k=SHOWN_CANDIDATES) if it.status == "open" else []
    names = dict(db.session.execute(sa.select(Provider.id, Provider.name).where(
        Provider.id.in_([c.provider_id for c in ranked]))).tuples().all())
    return {"item_id": it.id, "candidates": [
        {"rank": c.rank, "provider_id": c.provider_id, "provider": names[c.provider_id], "score": c.score,
         "model_version": c.model_version, "reasons": (c.reasons or {}).get("reasons", [])} for c in ranked]}


def _order_row(o: Order) -> dict:
    item = o.item
    return {"id": o.id, "item_id": o.item_id, "household_code": item.household.code,
            "town": bilingual(item.household.town), "category": bilingual(item.category), "state": str(o.state),
            "provider": o.provider.name if o.provider else None, "created_at": o.created_at,
            "dispatched_at": o.dispatched_at, "response_due_at": o.response_due_at}


@idempotent
@bp.doc(parameters=[HEADER_DOC])
@bp.arguments(s.DispatchBody)
@bp.response(201, s.StaffOrder)
@_errors(*WRITE_ERRORS)
def item_dispatch(body: dict, item_id: int):
    """Dispatch an item to one of its ranked organisations, or (a volunteer category, no provider_id) publish it
    as a volunteer task with what to bring."""
    user = require("staff:write")
    it = get_item_or_404(item_id, user)
    provider_id = body["provider_id"]
    try:
        if provider_id is None:
            if not it.category.volunteer_task:
                message = _("Choose one of the ranked organisations for this item.")
                return problem(422, message, [{"path": "json/provider_id", "message": message}])
            order_id = run_in_transaction(lambda: volunteer_tasks.publish(it, user, body["bring"]).id)
        else:
            ranked = matching.rank_item(it, k=RANKED)
            choice = next((c for c in ranked if c.provider_id == provider_id), None)
            if choice is None:
                return problem(409, _("This provider is not an eligible candidate for the item now."))
            order_id = run_in_transaction(lambda: dispatch.dispatch(it, choice, user,
                                                                    shown=ranked[:SHOWN_CANDIDATES]).id)
    except ServiceError as e:
        return _service_problem(e)
    return _order_row(db.session.get(Order, order_id)), 201


@idempotent
@bp.doc(parameters=[HEADER_DOC])
@bp.arguments(s.CancelBody)
@bp.response(200, s.StaffOrder)
@_errors(*WRITE_ERRORS)
def order_cancel(body: dict, order_id: int):
    """Cancel an open order of my towns with a reason: its planned visits are cancelled and the item opens again."""
    user = require("staff:write")
    order = db.session.get(Order, order_id) or abort(404)
    get_item_or_404(order.item_id, user)
    try:
        run_in_transaction(lambda: dispatch.cancel(order, user, body["reason"]))
    except ServiceError as e:
        return _service_problem(e)
    return _order_row(db.session.get(Order, order_id))


@idempotent
@bp.doc(parameters=[HEADER_DOC])
@bp.arguments(s.CloseBody)
@bp.response(200, s.Item)
@_errors(*WRITE_ERRORS)
def item_close(body: dict, item_id: int):
    """Close a service item of my towns that has no open order, with a reason."""
    user = require("staff:write")
    it = get_item_or_404(item_id, user)
    try:
        run_in_transaction(lambda: items.close(it, user, body["reason"]))
    except ServiceError as e:
        return _service_problem(e)
    return _item_row(get_item_or_404(item_id, user))


@bp.arguments(s.StaffOrderQuery, location="query", unknown=RAISE)
@bp.response(200, s.StaffOrderPage)
@_errors(*ERRORS)
def orders_board(args: dict):
    """Orders in my towns, newest first, by state, town, category code, provider name, date range and number,
    with the count per state (the counts and the total may be up to 30 seconds old)."""
    user = require("staff:read")
    given = {name: str(args[key]) for name, key in (("state", "state"), ("town", "town"), ("category", "category"),
                                                    ("provider", "provider"), ("from", "from_"), ("to", "to"),
                                                    ("number", "number")) if args.get(key) is not None}
    filters = order_search.parse_order_filters(user, given)
    if filters.errors:
        return problem(422, _("Correct the fields listed in errors."),
                       [{"path": f"query/{name}", "message": message} for name, message in filters.errors.items()])
    query = order_search.board_query(user, filters).options(ORDER_JOINED, contains_eager(Order.provider))
    # the counts use the same filters but the state, so the total is among them (both up to
    # API_FIGURES_CACHE_SECONDS old; the rows are always current)
    counts = order_search.cached_state_counts(user, filters, current_app.config["API_FIGURES_CACHE_SECONDS"])
    total = counts.get(str(filters.state), 0) if filters.state is not None else sum(counts.values())
    return {**page_of(query, args["page"], _order_row, total=total), "counts": counts}


@bp.arguments(s.DashboardQuery, location="query", unknown=RAISE)
@bp.response(200, s.Dashboard)
@_errors(*ERRORS)
def dashboard_figures(args: dict):
    """The dashboard's figures and tables for my towns and the period (default: the last complete month); the
    figures may be up to 30 seconds old."""
    user = require("staff:read")
    given = {name: str(args[key]) for name, key in (("from", "from_"), ("to", "to"), ("town", "town"),
                                                    ("category", "category")) if args.get(key) is not None}
    try:
        filters = dashboard.parse_filters(user, given, today())
    except ServiceError as e:
        return problem(422, e.message, [{"path": f"query/{e.field}", "message": e.message}])
    data = dashboard.cached_build(user, filters, utcnow(), max_age=current_app.config["API_FIGURES_CACHE_SECONDS"])
    return {"start": filters.start, "end": filters.end, "town_id": filters.town_id, "category": filters.category_code,
            "headline": data.headline,
            "tables": [{"key": t.key, "title": t.title, "header": t.header, "rows": t.rows}
                       for t in data.tables.values()]}


@bp.response(200, s.ImportStatus)
@_errors(*ERRORS)
def import_status(token: str):
    """The state and progress of one of my imports (by its upload token), with its background job's status."""
    user = require("staff:read")
    upload = imports.get_upload(token, user) or abort(404)
    status = upload.status()
    job = background.latest_for(token, user)
    return {"state": status.get("state"), "progress": status.get("progress"), "written": status.get("written"),
            "job": background.as_status(job) if job is not None else None}


@idempotent
@bp.doc(parameters=[HEADER_DOC])
@bp.arguments(s.BatchDispatchBody)
@bp.response(202, s.Job)
@_errors(*WRITE_ERRORS)
def batch_dispatch_submit(body: dict):
    """Queue the dispatch of these items of my towns at once by the best capacity-aware assignment (all or nothing;
    a background job: read its state at /staff/jobs/{job_id}); items in a volunteer category that no organisation
    takes become volunteer tasks."""
    user = require("staff:write")
    listed = [get_item_or_404(item_id, user).id for item_id in dict.fromkeys(body["item_ids"])]
    job_id = run_in_transaction(lambda: batch_dispatch.submit(listed, user).id)
    return background.as_status(db.session.get(BackgroundJob, job_id, populate_existing=True)), 202


@bp.response(200, s.Job)
@_errors(*ERRORS)
def job_status(job_id: int):
    """The state and progress of one of my background jobs (city staff: every job), with its result when done."""
    job = background.get_job(job_id, require("staff:read")) or abort(404)
    return background.as_status(job)


ROUTES = [  # (rule, endpoint, view, methods)
    ("/staff/households/<int:household_id>", "staff_household", household_detail, GET),
    ("/staff/households/<int:household_id>/items", "staff_item_create", item_create, POST),
    ("/staff/items/<int:item_id>", "staff_item", item_detail, GET),
    ("/staff/items/<int:item_id>/ranking", "staff_item_ranking", item_ranking, GET),
    ("/staff/items/<int:item_id>/dispatch", "staff_item_dispatch", item_dispatch, POST),
    ("/staff/items/<int:item_id>/close", "staff_item_close", item_close, POST),
    ("/staff/orders", "staff_orders", orders_board, GET),
    ("/staff/orders/<int:order_id>/cancel", "staff_order_cancel", order_cancel, POST),
    ("/staff/dashboard", "staff_dashboard", dashboard_figures, GET),
    ("/staff/dispatch/batch", "staff_batch_dispatch", batch_dispatch_submit, POST),
    ("/staff/jobs/<int:job_id>", "staff_job", job_status, GET),
    ("/staff/imports/<token>", "staff_import", import_status, GET),
]
