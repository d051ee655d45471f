"""Staff visit pages: any assignee's week calendar in scope, a visit's page, confirming volunteers' service
records, pairing-unit quota compliance, a household's timeline and the independent evaluation of an order."""
from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from socialforce.platform.extensions import db
from socialforce.platform.localtime import to_local
from socialforce.platform.models import EvaluationSource, Order, ServiceRecord, utcnow
from socialforce.platform.scoping import get_household_or_404, get_order_or_404
from socialforce.platform.services import feedback, hours, households, outcomes, quotas, visits
from socialforce.platform.transactions import run_in_transaction
from socialforce.portals.forms import EvaluationForm, do, form_errors, outcome_form, outcome_input
from socialforce.portals.staff.feedback import FeedbackForm
from socialforce.portals.visits import (
    calendar_context,
    parse_week,
    visit_action,
    visit_or_404,
    visit_page_context,
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
    return render_template("visits/visit.html", portal="staff",
                           back_url=url_for("staff.timeline", household_id=visit.order.item.household_id),
                           **visit_page_context(visit, current_user))


def visit_post(visit_id: int, action: str):
    """Save notes, reschedule or cancel a visit (check-in/out is the assignee's)."""
    visit = visit_or_404(visit_id)
    visit_action(visit, action, current_user)
    return redirect(url_for("staff.visit", visit_id=visit.id), 303)


def pending_hours():
    """Volunteers' service records awaiting confirmation in scope."""
    page = db.paginate(hours.pending_records(current_user), per_page=current_app.config["PAGE_SIZE"],
                       error_out=False)
    return render_template("staff/visits/hours.html", page=page)


def confirm_record(record_id: int):
    """Confirm one service record so it counts towards the volunteer's hours (a flagged visit: once checked)."""
    record = db.session.scalar(hours.pending_records(current_user).where(ServiceRecord.id == record_id))
    if record is None:
        abort(404)
    do(lambda: hours.confirm_record(record, current_user, utcnow(), checked_flags=request.form.get("checked") == "1"),
       _("The service record was confirmed (%(minutes)s minutes).", minutes=record.minutes))
    return redirect(url_for("staff.hours", page=request.args.get("page", type=int)), 303)


def confirm_records():
    """Confirm the ticked records in one go; records of flagged visits are never confirmed in bulk."""
    ids = [i for i in request.form.getlist("record_id", type=int) if 0 < i < MAX_ID][:current_app.config["PAGE_SIZE"]]
    count = run_in_transaction(lambda: hours.confirm_records(current_user, ids, utcnow()))
    flash(_("%(count)s service records were confirmed.", count=count), "success" if count else "warning")
    return redirect(url_for("staff.hours", page=request.args.get("page", type=int)), 303)


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
