"""Volunteer visit pages: my week, planning a visit for a task I signed up for, the visit's phone page, my
service hours and the printable hours certificate."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from socialforce.platform.extensions import db
from socialforce.platform.models import Order, TaskSignup, Visit, Volunteer, VolunteerTask, utcnow
from socialforce.platform.models.orders import LIVE_STATES
from socialforce.platform.services import ServiceError, hours, visits, volunteers
from socialforce.portals.forms import PlanForm
from socialforce.portals.visits import (
    calendar_context,
    parse_week,
    plan_from_form,
    proposals,
    visit_action,
    visit_or_404,
    visit_page_context,
)


def _volunteer() -> Volunteer:
    volunteer = volunteers.volunteer_of(current_user)
    if volunteer is None:
        abort(404)
    return volunteer


def calendar():
    """My visits this week and the tasks I signed up for that still need a visit planned."""
    volunteer = _volunteer()
    tasks = db.session.scalars(
        sa.select(Order).join(VolunteerTask, VolunteerTask.order_id == Order.id)
        .join(TaskSignup, TaskSignup.task_id == VolunteerTask.id)
        .where(TaskSignup.volunteer_id == volunteer.id, Order.state.in_(LIVE_STATES))
        .order_by(Order.id.desc()).limit(50)).all()
    context = calendar_context(visits.Assignee(volunteer_id=volunteer.id), parse_week(request.args.get("week")))
    return render_template("volunteer/visits/calendar.html", tasks=tasks, **context)


def plan(order_id: int):
    """Plan my visit for a task I signed up for: the earliest free times, or another time."""
    volunteer = _volunteer()
    order = db.get_or_404(Order, order_id)
    if order.provider_id is not None:  # an agency's or unit's order, never a volunteer task
        abort(404)
    try:
        assignee = visits.order_assignee(order, volunteer)
    except ServiceError:
        abort(404)
    if request.method == "POST":
        if plan_from_form(order, assignee, current_user):
            return redirect(url_for("volunteer.calendar"), 303)
        return redirect(url_for("volunteer.plan", order_id=order.id), 303)
    mine = db.session.scalars(sa.select(Visit).where(Visit.order_id == order.id, Visit.volunteer_id == volunteer.id)
                              .order_by(Visit.starts_at)).all()
    return render_template("volunteer/visits/plan.html", order=order, form=PlanForm(), visit_list=mine,
                           proposals=proposals(order, assignee))


def visit_page(visit_id: int):
    """The phone page of one of my visits (no household address or ID)."""
    return render_template("visits/visit.html", portal="volunteer",
                           **visit_page_context(visit_or_404(visit_id), current_user))


def visit_action_post(visit_id: int, action: str):
    """Check in, check out, notes, reschedule or cancel one of my visits."""
    visit = visit_or_404(visit_id)
    visit_action(visit, action, current_user)
    return redirect(url_for("volunteer.visit", visit_id=visit.id), 303)


def hours_page():
    """My service records (confirmed ones count) and the total of confirmed hours."""
    volunteer = _volunteer()
    page = db.paginate(hours.records_of(volunteer.id), per_page=current_app.config["PAGE_SIZE"], error_out=False)
    return render_template("volunteer/visits/hours.html", page=page,
                           confirmed_minutes=hours.confirmed_minutes(volunteer.id),
                           imported_hours=volunteer.imported_hours)


def certificate():
    """A print-ready certificate of my confirmed service hours."""
    volunteer = _volunteer()
    cert = hours.certificate(volunteer, utcnow())
    if not cert.records:
        flash(_("A certificate lists confirmed service records; you have none yet."), "info")
        return redirect(url_for("volunteer.hours"))
    return render_template("volunteer/visits/certificate.html", cert=cert)
