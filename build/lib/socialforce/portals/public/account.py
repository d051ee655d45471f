"""The logged-in user's own account: changing the password (which ends every session of the user; after a reset
it is forced and asks for no current password) and adding or verifying their own e-mail and mobile number."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import PasswordField
from wtforms.validators import DataRequired, EqualTo, Length

from socialforce.platform.models import utcnow
from socialforce.platform.services import ServiceError, accounts, contacts
from socialforce.platform.services import one_time_codes as codes
from socialforce.platform.transactions import run_in_transaction
from socialforce.portals.forms import refuse
from socialforce.portals.public.forms import ContactCodeForm, ContactForm


class NewPasswordForm(FlaskForm):
    new = PasswordField(_l("New password"), validators=[DataRequired(), Length(min=accounts.MIN_PASSWORD_LENGTH,
                                                                                max=accounts.MAX_PASSWORD_LENGTH)])
    confirm = PasswordField(_l("Repeat the new password"), validators=[
        DataRequired(), EqualTo("new", message=_l("The passwords do not match."))])


class PasswordForm(NewPasswordForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=200)])


@login_required
def change_password():
    """Change the password; every session of the user ends, this one included, and they log in again."""
    forced = current_user.must_change_password
    form = NewPasswordForm() if forced else PasswordForm()
    if form.validate_on_submit():
        current = None if forced else form.current.data
        try:
            run_in_transaction(lambda: accounts.change_password(current_user, current, form.new.data,
                                                                request.remote_addr))
        except ServiceError as e:
            refuse(form, e, default="new")
            return render_template("public/password.html", form=form, forced=forced), e.status
        lang = session.get("lang")
        session.clear()
        if lang:
            session["lang"] = lang
        flash(_("Your password has been changed. Please log in with the new password."), "success")
        return redirect(url_for("public.login"))
    status = 400 if form.is_submitted() else 200
    return render_template("public/password.html", form=form, forced=forced), status


def _account_page(contact_form: ContactForm | None = None, code_form: ContactCodeForm | None = None,
                  status: int = 200, pending: str | None = None):
    return render_template("public/account.html", user=current_user, pending=pending,
                           contact_form=contact_form or ContactForm(formdata=None),
                           code_form=code_form or ContactCodeForm(formdata=None, kind=pending or "email"),
                           channels=codes.channels_configured()), status


@login_required
def account():
    """The user's own account: e-mail and mobile number (verified or not), and the password."""
    return _account_page()


@login_required
def contact_start():
    """Send a 6-digit code to a new e-mail address or mobile number of the user."""
    form = ContactForm()
    if not form.validate_on_submit():
        return _account_page(contact_form=form, status=400)
    kind, address = form.kind.data, form.address.data
    try:
        message = run_in_transaction(lambda: contacts.start(current_user, kind, address, utcnow()))
    except ServiceError as e:
        refuse(form, e, default="address")
        return _account_page(contact_form=form, status=e.status)
    codes.send_in_background(message)
    flash(_("A code was sent to the new address. Enter it below within %(minutes)s minutes.",
            minutes=contacts.CODE_MINUTES), "info")
    return _account_page(pending=kind)


@login_required
def contact_confirm():
    """Check the code sent to the new address; the address is then verified and used for messages."""
    form = ContactCodeForm()
    if not form.validate_on_submit():
        return _account_page(code_form=form, status=400, pending=form.kind.data)
    kind, code = form.kind.data, form.code.data
    try:
        shown = run_in_transaction(lambda: contacts.confirm(current_user, kind, code, utcnow()))
    except ServiceError as e:
        refuse(form, e, default="code")
        return _account_page(code_form=form, status=e.status, pending=kind)
    if shown is None:
        form.code.errors.append(_("The code is wrong or has expired. Ask for a new one."))
        return _account_page(code_form=form, status=400, pending=kind)
    flash(_("The e-mail address is verified.") if kind == codes.EMAIL else _("The mobile number is verified."),
          "success")
    return redirect(url_for("public.account"), 303)
