"""Form classes and form helpers shared by more than one portal: the visit forms (plan, check in/out, notes,
reschedule, cancel, outcome, evaluation), parsing submitted values, flashing errors, and `do`, the one way a portal
runs a service call in a transaction and flashes its outcome."""
from __future__ import annotations

import math
from datetime import datetime

from flask import flash
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional, Regexp

from socialforce.platform import reference
from socialforce.platform.inputs import parse_datetime
from socialforce.platform.localtime import to_utc
from socialforce.platform.services import ServiceError, outcomes, visits
from socialforce.platform.transactions import run_in_transaction
from socialforce.portals.page_helpers import bilingual, choices

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


def outcome_form(form_class: type[OutcomeForm] = OutcomeForm, **kwargs) -> OutcomeForm:
    """An outcome (or evaluation) form with the service categories as follow-up choices."""
    form = form_class(**kwargs)
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


def add_error(form: FlaskForm, field: str | None, message: str, default: str | None = None) -> bool:
    """Put `message` beside a form field (`field`, else `default`), kept with the field's other errors; False when
    the form has neither field."""
    target = form._fields.get(field or "") or (form._fields.get(default) if default else None)
    if target is None:
        return False
    target.errors = [*target.errors, message]
    return True


def has_errors(form: FlaskForm) -> bool:
    """Whether any field of the form carries an error (from validation or `add_error`)."""
    return any(field.errors for field in form)


def refuse(form: FlaskForm, error: ServiceError, default: str | None = None) -> None:
    """A service's refusal beside the field it names (else `default`); flashed when the form has no such field."""
    if not add_error(form, error.field, error.message, default):
        flash(error.message, "danger")


def form_errors(form: FlaskForm) -> None:
    """Flash the first validation error of each field."""
    for field in form:
        for error in field.errors[:1]:
            flash(f"{field.label.text}: {error}", "danger")


MOBILE_PHONE = Regexp(r"^1\d{10}$", message=_l("A mobile number has 11 digits and starts with 1."))


def checkbox_list(label, **kwargs) -> SelectMultipleField:
    """A multiple choice shown as a list of checkboxes."""
    return SelectMultipleField(label, option_widget=widgets.CheckboxInput(),
                               widget=widgets.ListWidget(prefix_label=False), **kwargs)


def parse_float(text: str | None, empty: float | None = None) -> float | None:
    """A decimal number from a text field; `empty` when left empty; NaN when it is not a number (refused later)."""
    text = (text or "").strip()
    if not text:
        return empty
    try:
        return float(text)
    except ValueError:
        return math.nan


def act(work, success: str, form: FlaskForm, default: str | None = None) -> FlaskForm | None:
    """Run one service call of a submitted form in a transaction: None when done (success flashed), else the form
    with the refusal beside its field (else `default`; flashed when the form has neither)."""
    try:
        run_in_transaction(work)
    except ServiceError as e:
        refuse(form, e, default)
        return form
    flash(success, "success")
    return None


def do(work, success: str) -> bool:
    """Run one service call in a transaction (retried on SQLite locks); flash the outcome."""
    try:
        run_in_transaction(work)
    except ServiceError as e:
        flash(e.message, "danger")
        return False
    flash(success, "success")
    return True
