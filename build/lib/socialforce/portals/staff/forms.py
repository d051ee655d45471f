"""Staff portal forms."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from socialforce.platform.inputs import DateField
from socialforce.platform.labels import FREQUENCY, PRIORITY
from socialforce.portals.page_helpers import choices


class RevealForm(FlaskForm):
    purpose = StringField(_l("Purpose of viewing"), validators=[DataRequired(), Length(min=2, max=200)])


class ItemForm(FlaskForm):
    category_id = SelectField(_l("Service category"), coerce=int, validators=[DataRequired()])
    member_id = SelectField(_l("For member"), coerce=lambda v: int(v) if v not in (None, "", "None") else None,
                            validators=[Optional()])
    description = TextAreaField(_l("What is needed"), validators=[DataRequired(), Length(min=4, max=500)])
    priority = SelectField(_l("Priority"), choices=choices(PRIORITY.items()), default="normal")
    frequency = SelectField(_l("Frequency"), choices=choices(FREQUENCY.items()), default="once")
    slots_needed = IntegerField(_l("Volunteers needed"), default=1, validators=[NumberRange(min=1, max=50)])
    # the week grid's checkboxes (bit numbers), checked with the other fields so every error shows at once
    windows = SelectMultipleField(_l("Preferred time windows"), choices=choices((str(b), str(b)) for b in range(21)),
                                  validators=[DataRequired(_l("Choose at least one preferred time window."))])


class ReasonForm(FlaskForm):
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(min=2, max=200)])


class BackgroundCheckForm(FlaskForm):
    document_no = StringField(_l("Certificate number"), validators=[Optional(), Length(max=60)])
    issued_on = DateField(_l("Issued on"), validators=[DataRequired()])
    expires_on = DateField(_l("Valid until"), validators=[DataRequired()])
