"""Visit pages of the provider portals: a worker's week calendar, an order's visits (plan, outcome) and the phone
page of one visit (check-in/out, notes, reschedule, cancel)."""
from __future__ import annotations

import sqlalchemy as sa
from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm

from socialforce.platform.extensions import db
from socialforce.platform.models import EvaluationSource, ProviderMember, Role, User, utcnow
from socialforce.platform.scoping import get_provider_order_or_404
from socialforce.platform.services import ServiceError, outcomes, visits
from socialforce.portals import visits as pages
from socialforce.portals.forms import OutcomeForm, PlanForm, act, outcome_form, outcome_input
from socialforce.portals.provider.access import portal
from socialforce.portals.public.calendar import visit_file


def _members(user: User) -> list[ProviderMember]:
    if user.role in (Role.social_worker, Role.cadre):
        return [db.session.get(ProviderMember, user.member_id)] if user.member_id else []
    return list(db.session.scalars(sa.select(ProviderMember).where(
        ProviderMember.provider_id == user.provider_id, ProviderMember.active).order_by(ProviderMember.name)))


def calendar():
    """A week calendar of one of the provider's social workers or cadres (workers: their own)."""
    members = _members(current_user)
    chosen = request.args.get("member", type=int)
    member = next((m for m in members if m.id == chosen), members[0] if members else None)
    context = (pages.calendar_context(visits.Assignee(member_id=member.id), pages.parse_week(request.args.get("week")))
               if member else {})
    return render_template("provider/visits/calendar.html", portal=portal(), members=members, member=member,
                           **context)


def order_visits(order_id: int):
    """An order's visits: plan new ones (proposals or another time), record the outcome."""
    order = get_provider_order_or_404(order_id, current_user)
    failed = _order_post(order) if request.method == "POST" else None
    if request.method == "POST" and failed is None:
        return redirect(url_for(f"{portal()}.order_visits", order_id=order.id), 303)
    assignee = visits.order_assignee(order) if order.assignee_id else None
    return render_template(
        "provider/visits/order.html", portal=portal(), order=order, visit_list=visits.order_visits(order),
        proposals=pages.proposals(order, assignee) if assignee else [],
        plan_form=failed if isinstance(failed, PlanForm) else PlanForm(formdata=None),
        outcome_form=failed if isinstance(failed, OutcomeForm) else outcome_form(formdata=None),
        outcome_list=outcomes.outcomes_of(order),
        assignee_name=assignee.name() if assignee else None), 400 if failed else 200


def _order_post(order) -> FlaskForm | None:
    """Record the outcome or plan a visit from the order page's POST: None when done, else the refused form."""
    if request.form.get("action") == "outcome":
        form = outcome_form()
        if not form.validate_on_submit():
            return form
        return act(lambda: outcomes.record_outcome(order, EvaluationSource.provider, outcome_input(form),
                                                   current_user, utcnow()), _("The outcome was recorded."), form,
                   default="resolved")
    try:
        assignee = visits.order_assignee(order)
    except ServiceError as e:
        flash(e.message, "danger")
        return PlanForm()
    return pages.plan_from_form(order, assignee, current_user)


def visit_ics(visit_id: int):
    """One visit in scope as an .ics file for a calendar app."""
    return visit_file(pages.visit_or_404(visit_id))


def visit_page(visit_id: int):
    """The phone page of one visit."""
    visit = pages.visit_or_404(visit_id)
    return render_template("visits/visit.html", portal=portal(), **pages.visit_page_context(visit, current_user))


def visit_post(visit_id: int, action: str):
    """Check in, check out, save notes, reschedule or cancel a visit."""
    return pages.visit_response(pages.visit_or_404(visit_id), action, current_user, portal=portal())
