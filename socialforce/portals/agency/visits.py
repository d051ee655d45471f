"""Visit pages of the provider portals (agency here; the unit portal registers the same routes on its blueprint):
week calendar, an order's visits (plan, outcome), and the phone page of one visit (check-in/out, notes, reschedule,
cancel). The forms and form helpers here are shared by the volunteer and staff visit pages."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from socialforce.platform import reference
from socialforce.platform.extensions import db
from socialforce.platform.inputs import parse_date, parse_datetime
from socialforce.platform.localtime import to_local, to_utc, today
from socialforce.platform.models import (
    EvaluationSource,
    OrderState,
    ProviderMember,
    Role,
    User,
    Visit,
    utcnow,
)
from socialforce.platform.models.orders import LIVE_STATES
from socialforce.platform.scoping import get_provider_order_or_404
from socialforce.platform.services import ServiceError, outcomes, visits
from socialforce.platform.transactions import run_in_transaction
from socialforce.portals.agency.views import bp
from socialforce.portals.labels import bilingual, choices

LOCAL_FORMAT = "%Y-%m-%dT%H:%M"


REPEAT_CHOICES = choices([("", _l("Does not repeat")), ("weekly", _l("Weekly")),
                          ("fortnightly", _l("Every two weeks")), ("monthly", _l("Monthly"))])
DURATIONS = choices((m, str(m)) for m in (30, 45, 60, 90, 120, 180, 240))


class PlanForm(FlaskForm):
    slot = RadioField(_l("Proposed time"), validate_choice=False, validators=[Optional()])
    custom = StringField(_l("Or another time"), validators=[Optional()])
    duration = SelectField(_l("Duration (minutes)"), coerce=int, choices=DURATIONS, default=60)
    repeat = SelectField(_l("Repeat"), choices=REPEAT_CHOICES, default="")
    count = IntegerField(_l("Number of visits (empty: until the order ends)"), validators=[
        Optional(), NumberRange(2, visits.MAX_SERIES_COUNT)])


class RescheduleForm(FlaskForm):
    starts_at = StringField(_l("New time"), validators=[InputRequired()])
    reason = StringField(_l("Reason"), validators=[InputRequired(), Length(2, 200)])


class CancelForm(FlaskForm):
    reason = StringField(_l("Reason"), validators=[InputRequired(), Length(2, 200)])
    following = BooleanField(_l("Also cancel the following visits of this series"))


class CheckForm(FlaskForm):
    lat = HiddenField()
    lon = HiddenField()
    notes = TextAreaField(_l("Visit notes"), validators=[Optional(), Length(max=2000)])


class NotesForm(FlaskForm):
    notes = TextAreaField(_l("Visit notes"), validators=[Optional(), Length(max=2000)])


RESOLVED_CHOICES = choices([("yes", _l("Resolved")), ("partly", _l("Partly resolved")), ("no", _l("Not resolved"))])
GOAL_CHOICES = choices([(2, "+2"), (1, "+1"), (0, "0"), (-1, "-1"), (-2, "-2")])
RATING_CHOICES = choices((n, str(n)) for n in (1, 2, 3, 4, 5))
ASSESSMENT_MISSING = _l("Choose your assessment of the service, from 1 to 5.")


class OutcomeForm(FlaskForm):
    resolved = RadioField(_l("Was the need resolved?"), choices=RESOLVED_CHOICES, validators=[InputRequired()])
    goal_attainment = SelectField(_l("Goal attainment (-2 much less than expected .. +2 much more)"), coerce=int,
                                  choices=GOAL_CHOICES, default=0)
    assessment = RadioField(_l("Your own assessment of the service (1 poor .. 5 excellent); the household's "
                               "satisfaction is asked separately at the follow-up"), coerce=int,
                            choices=RATING_CHOICES, invalid_choice_message=ASSESSMENT_MISSING,
                            validators=[InputRequired(ASSESSMENT_MISSING)])
    comment = TextAreaField(_l("Comment"), validators=[Optional(), Length(max=500)])
    follow_up = TextAreaField(_l("Follow-up needed (describe it to add a new item to the service list)"),
                              validators=[Optional(), Length(max=500)])
    follow_up_category_id = SelectField(_l("Follow-up service category"), coerce=int, validators=[Optional()])


class EvaluationForm(OutcomeForm):
    source = SelectField(_l("Evaluation by"), choices=choices([("staff", _l("Civil-affairs staff")),
                                                               ("assistant", _l("Village assistant"))]),
                         default="staff")


def outcome_form(form_class: type[OutcomeForm] = OutcomeForm) -> OutcomeForm:
    """An outcome (or evaluation) form with the service categories as follow-up choices."""
    form = form_class()
    categories = reference.categories()
    form.follow_up_category_id.choices = [(0, _("Same category"))] + [(c.id, bilingual(c)) for c in categories]
    return form


def outcome_input(form: OutcomeForm) -> outcomes.OutcomeInput:
    """The service input from a validated outcome form."""
    return outcomes.OutcomeInput(
        resolved=form.resolved.data, goal_attainment=form.goal_attainment.data, assessment=form.assessment.data,
        comment=form.comment.data, follow_up=form.follow_up.data,
        follow_up_category_id=form.follow_up_category_id.data or None)


def parse_local(text: str | None) -> datetime | None:
    """A datetime-local value (Asia/Shanghai) as naive UTC, or None if it is not one."""
    local = parse_datetime(text, LOCAL_FORMAT)
    return to_utc(local) if local else None


def parse_coordinate(text: str | None) -> float | None:
    """A coordinate from a hidden input (filled by checkin.js), or None."""
    try:
        return float(text) if text else None
    except ValueError:
        return None


def form_errors(form: FlaskForm) -> None:
    """Flash the first validation error of each field."""
    for field in form:
        for error in field.errors[:1]:
            flash(f"{field.label.text}: {error}", "danger")


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


def do(work, success: str) -> bool:
    """Run one service call in a transaction (retried on SQLite locks); flash the outcome."""
    try:
        run_in_transaction(work)
    except ServiceError as e:
        flash(e.message, "danger")
        return False
    flash(success, "success")
    return True


def visit_action(visit: Visit, action: str, user: User) -> bool:
    """Handle one POSTed visit action (checkin, checkout, notes, reschedule, cancel) for the visit's page."""
    now = utcnow()
    own = (visit.assignee_id is not None and visit.assignee_id == user.member_id) or (
        visit.volunteer_id is not None and user.role == Role.volunteer)
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
            "own": (visit.assignee_id is not None and visit.assignee_id == user.member_id)
            or (visit.volunteer_id is not None and user.role == Role.volunteer),
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


# ---- provider portal routes (agency and unit) ----------------------------------------------------------------

def _members(user: User) -> list[ProviderMember]:
    if user.role in (Role.social_worker, Role.cadre):
        return [db.session.get(ProviderMember, user.member_id)] if user.member_id else []
    return list(db.session.scalars(sa.select(ProviderMember).where(
        ProviderMember.provider_id == user.provider_id, ProviderMember.active).order_by(ProviderMember.name)))


def _visit_or_404(visit_id: int) -> Visit:
    visit = visits.get_visit(visit_id, current_user)
    if visit is None:
        abort(404)
    return visit


def register_provider_routes(blueprint: Blueprint) -> None:
    """Add the calendar, order-visits and visit pages to a provider portal's blueprint."""
    portal = blueprint.name

    @blueprint.get("/calendar", endpoint="calendar")
    def calendar():
        """A week calendar of one of the provider's social workers or cadres (workers: their own)."""
        members = _members(current_user)
        chosen = request.args.get("member", type=int)
        member = next((m for m in members if m.id == chosen), members[0] if members else None)
        context = (calendar_context(visits.Assignee(member_id=member.id), parse_week(request.args.get("week")))
                   if member else {})
        return render_template("agency/visits/calendar.html", portal=portal, members=members, member=member,
                               **context)

    @blueprint.route("/orders/<int:order_id>/visits", methods=["GET", "POST"], endpoint="order_visits")
    def order_visits(order_id: int):
        """An order's visits: plan new ones (proposals or another time), record the outcome."""
        order = get_provider_order_or_404(order_id, current_user)
        if request.method == "POST":
            if request.form.get("action") == "outcome":
                form = outcome_form()
                if form.validate_on_submit():
                    do(lambda: outcomes.record_outcome(order, EvaluationSource.provider, outcome_input(form),
                                                       current_user, utcnow()), _("The outcome was recorded."))
                else:
                    form_errors(form)
            else:
                try:
                    assignee = visits.order_assignee(order)
                except ServiceError as e:
                    flash(e.message, "danger")
                else:
                    plan_from_form(order, assignee, current_user)
            return redirect(url_for(f"{portal}.order_visits", order_id=order.id), 303)
        assignee = visits.order_assignee(order) if order.assignee_id else None
        return render_template(
            "agency/visits/order.html", portal=portal, order=order, visit_list=visits.order_visits(order),
            proposals=proposals(order, assignee) if assignee else [], plan_form=PlanForm(),
            outcome_form=outcome_form(), outcome_list=outcomes.outcomes_of(order),
            assignee_name=assignee.name() if assignee else None)

    @blueprint.get("/visits/<int:visit_id>", endpoint="visit")
    def visit_page(visit_id: int):
        """The phone page of one visit."""
        visit = _visit_or_404(visit_id)
        return render_template("agency/visits/visit.html", portal=portal, **visit_page_context(visit, current_user))

    @blueprint.post("/visits/<int:visit_id>/<action>", endpoint="visit_action")
    def visit_post(visit_id: int, action: str):
        """Check in, check out, save notes, reschedule or cancel a visit."""
        visit = _visit_or_404(visit_id)
        visit_action(visit, action, current_user)
        return redirect(url_for(f"{portal}.visit", visit_id=visit.id), 303)


register_provider_routes(bp)
