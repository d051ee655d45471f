"""Forms of the public pages."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Regexp

from socialforce.portals.forms import MOBILE_PHONE, checkbox_list
from socialforce.portals.page_helpers import choices


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=60)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


class VolunteerSignupForm(FlaskForm):
    real_name = StringField(_l("Real name"), validators=[DataRequired(), Length(min=2, max=40)])
    id_number = StringField(_l("Resident ID number"), validators=[DataRequired(), Length(max=60)])
    phone = StringField(_l("Mobile phone"), validators=[DataRequired(), MOBILE_PHONE])
    town_id = SelectField(_l("Home town"), coerce=int, validate_choice=False, validators=[DataRequired()])
    skills = checkbox_list(_l("What you can help with"))
    username = StringField(_l("Username"), validators=[
        DataRequired(), Length(min=3, max=60),
        Regexp(r"^[A-Za-z0-9_.-]+$", message=_l("Use letters, digits, dot, dash or underscore."))])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(min=8, max=200)])
    confirm = PasswordField(_l("Repeat the password"), validators=[
        DataRequired(), EqualTo("password", message=_l("The passwords do not match."))])


CONTACT_KINDS = choices([("email", _l("E-mail")), ("phone", _l("Mobile phone"))])


class ForgotForm(FlaskForm):
    identifier = StringField(_l("Username, or your verified e-mail or mobile number"),
                             validators=[DataRequired(), Length(max=254)])


class ResetCodeForm(FlaskForm):
    identifier = StringField(_l("Username, or your verified e-mail or mobile number"),
                             validators=[DataRequired(), Length(max=254)])
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=20)])


class ContactForm(FlaskForm):
    kind = SelectField(_l("Kind"), choices=CONTACT_KINDS)
    address = StringField(_l("New address"), validators=[DataRequired(), Length(max=254)])


class ContactCodeForm(FlaskForm):
    kind = SelectField(_l("Kind"), choices=CONTACT_KINDS)
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=20)])
