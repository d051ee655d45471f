"""The visit pages every portal shares (provider, staff, volunteer): one visit's phone page (its actions and
template values), planning from a submitted PlanForm, the planner's proposals and the week calendar."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from flask import abort, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm

from socialforce.platform.inputs import parse_date, parse_datetime
from socialforce.platform.localtime import to_local, today
from socialforce.platform.models import OrderState, Role, User, Visit, utcnow
from socialforce.platform.models.orders import LIVE_STATES
from socialforce.platform.services import visits
from socialforce.portals.forms import (
    LOCAL_FORMAT,
    CancelForm,
    CheckForm,
    NotesForm,
    PlanForm,
    RescheduleForm,
    act,
    add_error,
    parse_coordinate,
    parse_local,
)


def visit_or_404(visit_id: int) -> Visit:
    """One visit in the current user's scope, else 404."""
    visit = visits.get_visit(visit_id, current_user)
    if visit is None:
        abort(404)
    return visit


def parse_week(arg: str | None) -> date:
    """The Monday of the requested week (?week=YYYY-MM-DD), default this local week."""
    return visits.week_start(parse_date(arg) or today())


def calendar_context(assignee: visits.Assignee, monday: date) -> dict:
    """Template values for a week calendar: the days and each day's visits."""
    by_day: dict[date, list[Visit]] = {monday + timedelta(days=n): [] for n in range(7)}
    for visit in visits.week(assignee, monday):
        by_day.setdefault(to_local(visit.starts_at).date(), []).append(visit)
    return {"days": by_day, "monday": monday, "prev_week": monday - timedelta(days=7),
            "next_week": monday + timedelta(days=7), "assignee_name": assignee.name()}

def owns_visit(visit: Visit, user: User) -> bool:
    """Whether the visit is the user's own to check in and out (its worker, or its volunteer)."""
    return (visit.assignee_id is not None and visit.assignee_id == user.member_id) or (
        visit.volunteer_id is not None and user.role == Role.volunteer)


def visit_action(visit: Visit, action: str, user: User) -> FlaskForm | None:
    """Handle one POSTed visit action (checkin, checkout, notes, reschedule, cancel) for the visit's page: None when
    done, else the submitted form with its errors beside its fields (a refusal without a field is flashed)."""
    now = utcnow()
    if action in ("checkin", "checkout"):
        if not owns_visit(visit, user):
            abort(403)
        form = CheckForm()
        if not form.validate_on_submit():
            return form
        lat, lon = parse_coordinate(form.lat.data), parse_coordinate(form.lon.data)
        if action == "checkin":
            return act(lambda: visits.check_in(visit, user, now, lat, lon), _("Checked in."), form)
        return act(lambda: visits.check_out(visit, user, now, lat, lon, form.notes.data), _("Checked out."), form,
                   default="notes")
    if action == "notes":
        form = NotesForm()
        if not form.validate_on_submit():
            return form
        return act(lambda: visits.save_notes(visit, form.notes.data, user), _("Notes saved."), form, default="notes")
    if action == "reschedule":
        form = RescheduleForm()
        starts_at = parse_local(form.starts_at.data)
        valid = form.validate_on_submit()
        if form.starts_at.data and starts_at is None:
            add_error(form, "starts_at", _("Enter the date and time as shown."))
        if not valid or starts_at is None:
            return form
        return act(lambda: visits.reschedule(visit, starts_at, None, form.reason.data, user, now),
                   _("The visit was rescheduled."), form, default="starts_at")
    if action == "cancel":
        form = CancelForm()
        if not form.validate_on_submit():
            return form
        return act(lambda: visits.cancel(visit, form.reason.data, user, now, following=form.following.data),
                   _("The visit was cancelled."), form, default="reason")
    abort(404)


def visit_response(visit: Visit, action: str, user: User, **page):
    """A POSTed visit action's answer: back to the visit's page (303) when done, else the page again with the
    submitted form's errors beside its fields and what was typed (400)."""
    failed = visit_action(visit, action, user)
    if failed is None:
        return redirect(url_for(f"{page['portal']}.visit", visit_id=visit.id), 303)
    return render_template("visits/visit.html", **page, **visit_page_context(visit, user, failed)), 400


def visit_page_context(visit: Visit, user: User, failed: FlaskForm | None = None) -> dict:
    """Template values for the phone page of one visit (`failed`: a submitted form to show with its errors)."""
    forms = {"check_form": CheckForm(formdata=None, notes=visit.notes), "notes_form": NotesForm(formdata=None, obj=visit),
             "reschedule_form": RescheduleForm(formdata=None,
                                               starts_at=to_local(visit.starts_at).strftime(LOCAL_FORMAT)),
             "cancel_form": CancelForm(formdata=None)}
    if failed is not None:
        forms.update({name: failed for name, form in forms.items() if type(form) is type(failed)})
    return {"visit": visit, "order": visit.order, "assignee_name": visits.Assignee.of(visit).name(),
            "own": owns_visit(visit, user), "show_address": user.role != Role.volunteer, **forms}


def plan_from_form(order, assignee: visits.Assignee, user: User) -> PlanForm | None:
    """Plan a visit (or series) from a submitted PlanForm (a proposed slot or a custom local time): None when done,
    else the form with its errors beside its fields."""
    form = PlanForm()
    valid = form.validate_on_submit()
    starts_at = parse_local(form.custom.data) if form.custom.data else None
    if form.custom.data and starts_at is None:
        add_error(form, "custom", _("Enter the date and time as shown."))
    elif starts_at is None and form.slot.data:
        starts_at = parse_datetime(form.slot.data)
    if starts_at is None and not form.custom.data:
        add_error(form, "custom", _("Choose a proposed time or enter another one."))
    if not valid or starts_at is None:
        return form
    return act(lambda: visits.plan_visit(order, assignee, starts_at, form.duration.data, user, utcnow(),
                                         repeat=form.repeat.data or None, count=form.count.data),
               _("The visit was planned."), form, default="custom")


def proposals(order, assignee: visits.Assignee, duration: int = 60) -> list[tuple[datetime, int]]:
    """The planner's proposed (UTC start, local weekday) pairs, or none when the order cannot be planned."""
    if OrderState(order.state) not in LIVE_STATES:
        return []
    return [(p, to_local(p).weekday()) for p in visits.propose_slots(order, assignee, utcnow(), duration)]
