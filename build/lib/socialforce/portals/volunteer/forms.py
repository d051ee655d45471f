"""Forms of the volunteer's profile and task pages."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from socialforce.platform.inputs import DateField
from socialforce.portals.forms import MOBILE_PHONE, checkbox_list


class ProfileForm(FlaskForm):
    skills = checkbox_list(_l("What you can help with"), validate_choice=False)
    town_id = SelectField(_l("Home town"), coerce=int, validate_choice=False, validators=[DataRequired()])
    phone = StringField(_l("New mobile phone"), validators=[Optional(), MOBILE_PHONE])


class CertificationForm(FlaskForm):
    code = SelectField(_l("Certification"), validate_choice=False, validators=[DataRequired()])
    document_no = StringField(_l("Certificate number"), validators=[DataRequired(), Length(max=60)])
    issued_on = DateField(_l("Issued on"), validators=[Optional()])
    expires_on = DateField(_l("Valid until"), validators=[Optional()])


class WithdrawForm(FlaskForm):
    reason = TextAreaField(_l("Why do you withdraw?"), validators=[Optional(), Length(max=200)])
