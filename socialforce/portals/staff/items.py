"""Staff views: a household's service list, matching review with reasons, dispatch, the orders board."""
from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from socialforce.platform import reference
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    BackgroundJob,
    Frequency,
    Household,
    JobState,
    Order,
    OrderState,
    Priority,
    Provider,
    ServiceItem,
    VolunteerTask,
    utcnow,
)
from socialforce.platform.row_loads import ITEM_ROW, ORDER_ROW
from socialforce.platform.scoping import get_household_or_404, get_item_or_404
from socialforce.platform.services import (
    ServiceError,
    background,
    batch_dispatch,
    dispatch,
    households,
    items,
    matching,
    order_search,
    ranker,
    volunteer_tasks,
)
from socialforce.platform.services.provider_profiles import mask_name
from socialforce.platform.transactions import run_in_transaction
from socialforce.portals import confirm
from socialforce.portals.forms import refuse
from socialforce.portals.page_helpers import bilingual, mask_from_form, paginated
from socialforce.portals.staff.forms import ItemForm, ReasonForm

SHOWN_CANDIDATES = 5
MATCHING_PAGE_SIZES = (10, 25)  # each item on the review page is ranked live: pages stay short
"""Candidates shown on an item's page; the list a dispatch was chosen from is kept for the learned ranker."""


def _item_form(household: Household, item: ServiceItem | None = None) -> ItemForm:
    form = ItemForm(obj=item)
    form.category_id.choices = [(c.id, bilingual(c)) for c in reference.categories()]
    form.member_id.choices = [("", _("The whole household"))] + [(m.id, m.name) for m in household.members]
    return form


def _item_input(form: ItemForm) -> items.ItemInput:
    return items.ItemInput(category_id=form.category_id.data, description=form.description.data,
                           member_id=form.member_id.data, priority=Priority(form.priority.data),
                           frequency=Frequency(form.frequency.data), windows=mask_from_form(request.form.getlist("windows")),
                           slots_needed=form.slots_needed.data or 1)


def _render_item_form(form: ItemForm, household: Household, status: int = 200, windows_error: str | None = None):
    return render_template("staff/item_form.html", form=form, household=household,
                           windows_errors=[windows_error] if windows_error else form.windows.errors,
                           mask=mask_from_form(request.form.getlist("windows"))), status


def item_new(household_id: int):
    """Register a service item on a household's service list."""
    household = get_household_or_404(household_id, current_user)
    form = _item_form(household)
    if not form.validate_on_submit():
        return _render_item_form(form, household, 400 if form.is_submitted() else 200)
    try:
        item = run_in_transaction(lambda: items.register(household, _item_input(form), current_user))
    except ServiceError as e:
        if e.field == "windows":
            return _render_item_form(form, household, e.status, e.message)
        refuse(form, e, default="description")
        return _render_item_form(form, household, e.status)
    flash(_("Service item registered."), "success")
    return redirect(url_for("staff.item", item_id=item.id))


def item(item_id: int):
    """An item with its orders, their events, and its ranked candidates with reasons."""
    return _item_page(get_item_or_404(item_id, current_user))


def _item_page(it: ServiceItem, status: int = 200, bring: str = "", bring_error: str | None = None):
    orders = db.session.scalars(sa.select(Order).where(Order.item_id == it.id).order_by(Order.id)).all()
    candidates = matching.rank_item(it, k=SHOWN_CANDIDATES) if it.status == "open" else []
    providers = {p.id: p for p in db.session.scalars(
        sa.select(Provider).where(Provider.id.in_([c.provider_id for c in candidates])))}
    tasks = {t.order_id: t for t in db.session.scalars(
        sa.select(VolunteerTask).where(VolunteerTask.order_id.in_([o.id for o in orders])))}
    visits_by_order, outcomes_by_order = households.order_records([o.id for o in orders])
    return render_template("staff/item.html", item=it, orders=orders, candidates=candidates, providers=providers,
                           close_form=ReasonForm(), basis=ranker.ranking_basis() if candidates else None,
                           bring=bring, bring_error=bring_error, tasks=tasks, visits_by_order=visits_by_order,
                           outcomes_by_order=outcomes_by_order), status


def item_dispatch(item_id: int):
    """Dispatch an item to a chosen candidate, or publish it as a volunteer task."""
    it = get_item_or_404(item_id, current_user)
    provider_id = request.form.get("provider_id", type=int)
    if provider_id is None and not it.category.volunteer_task:
        abort(400)
    if provider_id is None:  # publish as a volunteer task, with what to bring
        bring = request.form.get("bring", "")
        try:
            order = run_in_transaction(lambda: volunteer_tasks.publish(it, current_user, bring))
        except ServiceError as e:
            if e.field == "bring":
                return _item_page(it, e.status, bring[:volunteer_tasks.BRING_MAX], e.message)
            flash(e.message, "danger")
            return redirect(url_for("staff.item", item_id=it.id))
        flash(_("Order #%(id)s dispatched.", id=order.id), "success")
        return redirect(url_for("staff.item", item_id=it.id))
    choice, shown = dispatch.Choice(provider_id=None), []
    if provider_id is not None:
        ranked = matching.rank_item(it, k=20)
        choice = next((c for c in ranked if c.provider_id == provider_id), None)
        if choice is None:
            flash(_("This provider is not an eligible candidate for the item now."), "danger")
            return redirect(url_for("staff.item", item_id=it.id))
        shown = ranked[:SHOWN_CANDIDATES]
    if not confirm.confirmed():
        target = (db.session.get(Provider, provider_id).name if provider_id is not None
                  else _("volunteers (a task with %(n)s places)", n=it.slots_needed))
        return confirm.ask(
            _("Dispatch service item #%(id)s to %(target)s?", id=it.id, target=target),
            _("1 order (%(category)s, household %(household)s) goes to %(target)s, who must answer within "
              "%(hours)s hours. It cannot be taken back, only cancelled with a reason.", category=bilingual(it.category),
              household=it.household.code, target=target, hours=current_app.config["RESPONSE_DEADLINE_HOURS"]),
            _("Dispatch"), url_for("staff.item", item_id=it.id))
    try:
        order = run_in_transaction(lambda: dispatch.dispatch(it, choice, current_user, shown=shown))
    except ServiceError as e:
        flash(e.message, "danger")
        return redirect(url_for("staff.item", item_id=it.id))
    flash(_("Order #%(id)s dispatched.", id=order.id), "success")
    return redirect(url_for("staff.item", item_id=it.id))


def task_bring(task_id: int):
    """Change what volunteers should bring for a live task of an item in scope; audited."""
    task = db.session.get(VolunteerTask, task_id) or abort(404)
    it = get_item_or_404(task.order.item_id, current_user)
    bring = request.form.get("bring", "")
    try:
        run_in_transaction(lambda: volunteer_tasks.set_bring(task.id, bring, current_user))
    except ServiceError as e:
        if e.field == "bring":
            return _item_page(it, e.status, bring[:volunteer_tasks.BRING_MAX], e.message)
        flash(e.message, "danger")
    else:
        flash(_("What to bring was saved; volunteers see it on the task."), "success")
    return redirect(url_for("staff.item", item_id=it.id))


def _with_reason(action: Callable[[str], object]) -> bool:
    """Run a service action with the posted reason and commit; on a missing reason or a refusal flash it, roll
    back and return False."""
    form = ReasonForm()
    if not form.validate_on_submit():
        given = (form.reason.data or "").strip()
        flash(f"{form.reason.label.text}: {form.reason.errors[0]}" if given and form.reason.errors
              else _("Please give a reason."), "danger")
        return False
    try:
        run_in_transaction(lambda: action(form.reason.data))
    except ServiceError as e:
        flash(e.message, "danger")
        return False
    return True


def order_cancel(order_id: int):
    """Cancel an open order with a reason; the item opens again to dispatch anew or close."""
    order = db.session.get(Order, order_id) or abort(404)
    it = get_item_or_404(order.item_id, current_user)
    if not confirm.confirmed() and ReasonForm().validate_on_submit():
        target = order.provider.name if order.provider else _("the volunteers signed up")
        return confirm.ask(_("Cancel order #%(id)s of %(target)s?", id=order.id, target=target),
                           _("Order #%(id)s is withdrawn from %(target)s and its planned visits are cancelled; the "
                             "item opens again.", id=order.id, target=target),
                           _("Cancel order"), url_for("staff.item", item_id=it.id), danger=True)
    if _with_reason(lambda reason: dispatch.cancel(order, current_user, reason)):
        flash(_("Order #%(id)s was cancelled; the item is open again: dispatch it anew or close it.", id=order.id),
              "success")
    return redirect(url_for("staff.item", item_id=it.id))


def item_close(item_id: int):
    """Close an item with a reason."""
    it = get_item_or_404(item_id, current_user)
    if not _with_reason(lambda reason: items.close(it, current_user, reason)):
        return redirect(url_for("staff.item", item_id=it.id))
    flash(_("Item closed."), "success")
    return redirect(url_for("staff.household", household_id=it.household_id))


def matching_review():
    """Open items in scope with their best candidates and reasons, to review and dispatch."""
    town_id = current_user.town_id or request.args.get("town", type=int)
    category_id = request.args.get("category", type=int)
    query = sa.select(ServiceItem).where(ServiceItem.id.in_(matching.open_items_query(current_user, town_id, category_id)))
    page = paginated(query.order_by(ServiceItem.id).options(*ITEM_ROW), sizes=MATCHING_PAGE_SIZES, default_size=10)
    ranked = matching.rank_items(page.items, k=3)
    provider_ids = {c.provider_id for cs in ranked.values() for c in cs}
    providers = {p.id: p for p in db.session.scalars(
        sa.select(Provider).where(Provider.id.in_(provider_ids)))}
    return render_template("staff/matching.html", page=page, ranked=ranked, providers=providers,
                           towns=reference.scope_towns(current_user), categories=reference.categories(), basis=ranker.ranking_basis())


def matching_dispatch_page():
    """Queue the dispatch of the listed items at once by the best capacity-aware assignment (all or nothing; a
    background job); items in a volunteer category that no organisation takes become volunteer tasks."""
    item_ids = [i for i in request.form.getlist("item_id", type=int) if i > 0][:batch_dispatch.MAX_ITEMS]
    listed = [get_item_or_404(item_id, current_user).id for item_id in item_ids]
    if not listed:  # nothing to do: no job
        flash(_("%(n)s orders dispatched.", n=0), "success")
        return redirect(url_for("staff.matching_review"))
    if not confirm.confirmed():
        orders, per_provider, tasks = batch_dispatch.preview(listed, current_user)
        recipients = "; ".join(f"{name} × {n}" for name, n in sorted(per_provider.items(), key=lambda kv: -kv[1]))
        if tasks:
            recipients = "; ".join(filter(None, [recipients, _("volunteer tasks × %(n)s", n=tasks)]))
        return confirm.ask(
            _("Dispatch %(n)s orders for the %(items)s items on this page?", n=orders, items=len(listed)),
            _("%(n)s orders go out at once: %(to)s. Items nobody can take stay open.", n=orders,
              to=recipients or _("nobody")),
            _("Dispatch %(n)s orders", n=orders), request.referrer or url_for("staff.matching_review"))
    job_id = run_in_transaction(lambda: batch_dispatch.submit(listed, current_user).id)
    job = db.session.get(BackgroundJob, job_id, populate_existing=True)
    if job.state == JobState.failed:
        flash(_("Nothing was dispatched: %(reason)s", reason=background.error_text(job)), "danger")
        return redirect(request.referrer or url_for("staff.matching_review"))
    if job.state == JobState.done:
        flash(_("%(n)s orders dispatched.", n=job.result["dispatched"]), "success")
        return redirect(url_for("staff.matching_review"))
    return redirect(url_for("staff.job_page", job_id=job.id))


def _board(template: str, **context):
    """The orders board's filters and one page of its orders, rendered with `template` (the board or its print)."""
    filters = order_search.parse_order_filters(current_user, request.args)
    counts = order_search.state_counts(current_user, filters)
    query = order_search.board_query(current_user, filters).options(*ORDER_ROW)
    page = paginated(query, count=False)
    page.total = counts.get(str(filters.state), 0) if filters.state is not None else sum(counts.values())
    return render_template(template, page=page, counts=counts, states=list(OrderState), now=utcnow(),
                           filters=filters, towns=reference.scope_towns(current_user),
                           categories=reference.categories(), **context), 400 if filters.errors else 200


def orders_board():
    """Orders in scope, found by state, town, category, provider, date range and number, sortable; orders past
    their response deadline are highlighted; refused filters are named next to their field."""
    return _board("staff/orders.html")


def orders_print():
    """The board's current page of orders as dispatch slips (派单单), one per printed A4 page, same filters."""
    return _board("staff/orders_print.html", mask=mask_name)
