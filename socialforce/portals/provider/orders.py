"""Order pages of the provider portals: incoming orders, accept with a worker, decline."""
from __future__ import annotations

import sqlalchemy as sa
from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from socialforce.platform.errors import wants_json
from socialforce.platform.extensions import db
from socialforce.platform.models import Order, OrderState, ProviderMember, utcnow
from socialforce.platform.row_loads import ORDER_ROW
from socialforce.platform.scoping import get_provider_order_or_404, provider_orders
from socialforce.platform.services import ServiceError, dispatch
from socialforce.platform.transactions import run_in_transaction
from socialforce.portals.page_helpers import paginated
from socialforce.portals.provider.access import is_admin, portal, worker_role


def _answer(order: Order, message: str, ok: bool, status: int = 200):
    """JSON for JSON clients, else a flash message and a redirect to the order."""
    if wants_json():
        body = {"order_id": order.id, "state": str(order.state)} if ok else {"error": message}
        return jsonify(body), status
    flash(message, "success" if ok else "danger")
    return redirect(url_for(f"{portal()}.order", order_id=order.id))


def _answer_with(order: Order, work, done: str):
    """Run an accept or decline in a transaction and answer with its outcome."""
    try:
        run_in_transaction(work)
    except ServiceError as e:
        return _answer(order, e.message, False, e.status)
    return _answer(order, done, True)


def orders():
    """The provider's orders, newest first, filterable by state."""
    query = provider_orders(current_user).order_by(Order.id.desc()).options(*ORDER_ROW)
    state = request.args.get("state")
    if state in OrderState.__members__:
        query = query.where(Order.state == OrderState(state))
    page = paginated(query)
    return render_template("provider/orders.html", page=page, portal=portal(), states=list(OrderState),
                           now=utcnow())


def order(order_id: int):
    """One order: the need (no personal data beyond the village), the ranking reasons, accept or decline."""
    o = get_provider_order_or_404(order_id, current_user)
    workers = db.session.scalars(sa.select(ProviderMember).where(
        ProviderMember.provider_id == current_user.provider_id, ProviderMember.role == worker_role(),
        ProviderMember.active).order_by(ProviderMember.name)).all()
    can_answer = is_admin() and o.state == OrderState.dispatched
    return render_template("provider/order.html", order=o, workers=workers, portal=portal(),
                           can_answer=can_answer)


def order_accept(order_id: int):
    """Accept an order, naming the worker who will serve it."""
    o = get_provider_order_or_404(order_id, current_user)
    if not is_admin():
        return _answer(o, _("Only the organisation's administrator can accept orders."), False, 403)
    assignee_id = request.form.get("assignee_id", type=int) or 0
    return _answer_with(o, lambda: dispatch.accept(o, current_user, assignee_id), _("Order accepted."))


def order_decline(order_id: int):
    """Decline an order with a reason; it goes to the next candidate."""
    o = get_provider_order_or_404(order_id, current_user)
    if not is_admin():
        return _answer(o, _("Only the organisation's administrator can decline orders."), False, 403)
    reason = request.form.get("reason", "")
    return _answer_with(o, lambda: dispatch.decline(o, current_user, reason), _("Order declined."))
