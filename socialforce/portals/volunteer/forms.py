"""Forms of the volunteer's profile and task pages."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, SelectMultipleField, StringField, TextAreaField, widgets
from wtforms.validators import DataRequired, Length, Optional, Regexp

from socialforce.platform.inputs import DateField


class ProfileForm(FlaskForm):
    skills = SelectMultipleField(_l("What you can help with"), option_widget=widgets.CheckboxInput(),
                                 widget=widgets.ListWidget(prefix_label=False), validate_choice=False)
    town_id = SelectField(_l("Home town"), coerce=int, validate_choice=False, validators=[DataRequired()])
    phone = StringField(_l("New mobile phone"), validators=[
        Optional(), Regexp(r"^1\d{10}$", message=_l("A mobile number has 11 digits and starts with 1."))])


class CertificationForm(FlaskForm):
    code = SelectField(_l("Certification"), validate_choice=False, validators=[DataRequired()])
    document_no = StringField(_l("Certificate number"), validators=[DataRequired(), Length(max=60)])
    issued_on = DateField(_l("Issued on"), validators=[Optional()])
    expires_on = DateField(_l("Valid until"), validators=[Optional()])


class WithdrawForm(FlaskForm):
    reason = TextAreaField(_l("Why do you withdraw?"), validators=[Optional(), Length(max=200)])
