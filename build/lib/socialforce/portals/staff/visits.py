"""Staff visit pages: any assignee's week calendar in scope, a visit's page, pairing-unit quota compliance, a
household's timeline and the independent evaluation of an order (volunteers' hours: staff/hours.py)."""
from __future__ import annotations

from flask import abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from socialforce.platform.localtime import to_local
from socialforce.platform.models import EvaluationSource, Order, utcnow
from socialforce.platform.scoping import get_household_or_404, get_order_or_404
from socialforce.platform.services import feedback, households, outcomes, quotas, visits
from socialforce.portals.forms import EvaluationForm, do, form_errors, outcome_form, outcome_input
from socialforce.portals.staff.feedback import FeedbackForm
from socialforce.portals.visits import (
    calendar_context,
    parse_week,
    visit_or_404,
    visit_page_context,
    visit_response,
)

MAX_ID = 2**31  # ids are 32-bit integers on PostgreSQL


def calendar():
    """Find a social worker, cadre or volunteer in scope and show their week."""
    args = request.args
    assignee = visits.assignee_in_scope(current_user, args.get("member", type=int), args.get("volunteer", type=int))
    if (args.get("member") or args.get("volunteer")) and assignee is None:
        abort(404)
    query = (args.get("q") or "").strip()
    members, volunteers = visits.find_assignees(current_user, query) if query else ([], [])
    context = calendar_context(assignee, parse_week(args.get("week"))) if assignee else {}
    link_args = ({"member": assignee.member_id} if assignee and assignee.member_id else
                 {"volunteer": assignee.volunteer_id} if assignee else {})
    return render_template("staff/visits/calendar.html", q=query, members=members, volunteers=volunteers,
                           assignee=assignee, link_args=link_args, **context)


def visit_page(visit_id: int):
    """One visit of a household in scope."""
    visit = visit_or_404(visit_id)
    return render_template("visits/visit.html", **_page(visit), **visit_page_context(visit, current_user))


def visit_post(visit_id: int, action: str):
    """Save notes, reschedule or cancel a visit (check-in/out is the assignee's)."""
    visit = visit_or_404(visit_id)
    return visit_response(visit, action, current_user, **_page(visit))


def _page(visit) -> dict:
    """The staff visit page's own values: its portal and the way back to the household's timeline."""
    return {"portal": "staff", "back_url": url_for("staff.timeline", household_id=visit.order.item.household_id)}


def quota():
    """Pairing units' monthly-visit compliance this month (paired households in scope)."""
    return render_template("staff/visits/quota.html", rows=quotas.quota_compliance(current_user, utcnow()),
                           month=to_local(utcnow()).strftime("%Y-%m"))


def timeline(household_id: int):
    """A household's material assistance by month beside its service items, orders, visits and outcomes."""
    household = get_household_or_404(household_id, current_user)
    return render_template("staff/visits/timeline.html", household=household,
                           timeline=households.household_timeline(household))


def evaluate(order_id: int):
    """A completed order's page for staff: the household's follow-up (回访) and an independent evaluation (staff,
    or the village assistant's)."""
    order = get_order_or_404(order_id, current_user)
    form = outcome_form(EvaluationForm)
    if request.method == "POST":
        if form.validate_on_submit():
            if do(lambda: outcomes.record_outcome(order, EvaluationSource(form.source.data), outcome_input(form),
                                                  current_user, utcnow()), _("The evaluation was recorded.")):
                return redirect(url_for("staff.timeline", household_id=order.item.household_id), 303)
        else:
            form_errors(form)
        return evaluate_page(order, form), 400
    return evaluate_page(order, form)


def evaluate_page(order: Order, form: EvaluationForm) -> str:
    """The staff page of a completed order: outcomes, the household's follow-up, the evaluation form."""
    return render_template("staff/visits/evaluate.html", order=order, form=form,
                           outcome_list=outcomes.outcomes_of(order), feedback=feedback.feedback_of(order),
                           feedback_form=FeedbackForm())
