"""The visit pages every portal shares (provider, staff, volunteer): one visit's phone page (its actions and
template values), planning from a submitted PlanForm, the planner's proposals and the week calendar."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from flask import abort, flash
from flask_babel import gettext as _
from flask_login import current_user

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
    do,
    form_errors,
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


def visit_action(visit: Visit, action: str, user: User) -> bool:
    """Handle one POSTed visit action (checkin, checkout, notes, reschedule, cancel) for the visit's page."""
    now = utcnow()
    own = owns_visit(visit, user)
    if action in ("checkin", "checkout"):
        if not own:
            abort(403)
        form = CheckForm()
        if not form.validate_on_submit():
            form_errors(form)
            return False
        lat, lon = parse_coordinate(form.lat.data), parse_coordinate(form.lon.data)
        if action == "checkin":
            return do(lambda: visits.check_in(visit, user, now, lat, lon), _("Checked in."))
        return do(lambda: visits.check_out(visit, user, now, lat, lon, form.notes.data), _("Checked out."))
    if action == "notes":
        form = NotesForm()
        if not form.validate_on_submit():
            form_errors(form)
            return False
        return do(lambda: visits.save_notes(visit, form.notes.data, user), _("Notes saved."))
    if action == "reschedule":
        form = RescheduleForm()
        starts_at = parse_local(form.starts_at.data)
        if not form.validate_on_submit() or starts_at is None:
            form_errors(form)
            if form.starts_at.data and starts_at is None:
                flash(_("Enter the date and time as shown."), "danger")
            return False
        return do(lambda: visits.reschedule(visit, starts_at, None, form.reason.data, user, now),
                  _("The visit was rescheduled."))
    if action == "cancel":
        form = CancelForm()
        if not form.validate_on_submit():
            form_errors(form)
            return False
        return do(lambda: visits.cancel(visit, form.reason.data, user, now, following=form.following.data),
                  _("The visit was cancelled."))
    abort(404)


def visit_page_context(visit: Visit, user: User) -> dict:
    """Template values for the phone page of one visit."""
    return {"visit": visit, "order": visit.order, "assignee_name": visits.Assignee.of(visit).name(),
            "own": owns_visit(visit, user),
            "check_form": CheckForm(), "notes_form": NotesForm(obj=visit), "reschedule_form": RescheduleForm(
                starts_at=to_local(visit.starts_at).strftime(LOCAL_FORMAT)),
            "cancel_form": CancelForm(), "show_address": user.role != Role.volunteer}


def plan_from_form(order, assignee: visits.Assignee, user: User) -> bool:
    """Plan a visit (or series) from a submitted PlanForm: a proposed slot or a custom local time."""
    form = PlanForm()
    if not form.validate_on_submit():
        form_errors(form)
        return False
    starts_at = parse_local(form.custom.data) if form.custom.data else None
    if starts_at is None and form.slot.data:
        starts_at = parse_datetime(form.slot.data)
    if starts_at is None:
        flash(_("Choose a proposed time or enter another one."), "danger")
        return False
    return do(lambda: visits.plan_visit(order, assignee, starts_at, form.duration.data, user, utcnow(),
                                        repeat=form.repeat.data or None, count=form.count.data),
              _("The visit was planned."))


def proposals(order, assignee: visits.Assignee, duration: int = 60) -> list[tuple[datetime, int]]:
    """The planner's proposed (UTC start, local weekday) pairs, or none when the order cannot be planned."""
    if OrderState(order.state) not in LIVE_STATES:
        return []
    return [(p, to_local(p).weekday()) for p in visits.propose_slots(order, assignee, utcnow(), duration)]
