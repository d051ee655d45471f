"""The logged-in user's own account: changing the password (which ends every session of the user)."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import PasswordField
from wtforms.validators import DataRequired, EqualTo, Length

from socialforce.platform.services import ServiceError, accounts
from socialforce.platform.transactions import run_in_transaction


class PasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=200)])
    new = PasswordField(_l("New password"), validators=[DataRequired(), Length(min=accounts.MIN_PASSWORD_LENGTH,
                                                                                max=200)])
    confirm = PasswordField(_l("Repeat the new password"), validators=[
        DataRequired(), EqualTo("new", message=_l("The passwords do not match."))])


@login_required
def change_password():
    """Change the password; every session of the user ends, this one included, and they log in again."""
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            run_in_transaction(lambda: accounts.change_password(current_user, form.current.data, form.new.data,
                                                                request.remote_addr))
        except ServiceError as e:
            getattr(form, e.field).errors.append(e.message)
            return render_template("public/password.html", form=form), e.status
        lang = session.get("lang")
        session.clear()
        if lang:
            session["lang"] = lang
        flash(_("Your password has been changed. Please log in with the new password."), "success")
        return redirect(url_for("public.login"))
    status = 400 if form.is_submitted() else 200
    return render_template("public/password.html", form=form), status
