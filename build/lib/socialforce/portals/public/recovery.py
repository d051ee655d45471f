"""Getting back in without a password: "forgot password" (a code to the verified phone or e-mail), entering a
code (that one, or a manager's 8-character code), and a manager's one-time set-password link. Each logs the user
in with must_change_password set, so the next page is the change-password page (security.require_new_password).

The answer to "forgot password" is the same page, status and work whether or not the account exists."""
from __future__ import annotations

from flask import flash, make_response, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import login_user

from socialforce.platform.models import User, utcnow
from socialforce.platform.services import audit, password_reset
from socialforce.platform.services import one_time_codes as codes
from socialforce.platform.transactions import run_in_transaction
from socialforce.portals.public.forms import ForgotForm, ResetCodeForm


def begin_session(user: User, how: str) -> None:
    """Log the user in on a fresh session (no earlier session id survives: session fixation); audited."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    login_user(user)
    run_in_transaction(lambda: audit.record("login", user, ip=request.remote_addr, via=how))


def forgot_password():
    """Ask for a code; the answer is the code page, whatever was typed (rate-limited per address and account)."""
    form = ForgotForm()
    if not form.validate_on_submit():
        return render_template("public/forgot.html", form=form), 400 if form.is_submitted() else 200
    identifier, ip = form.identifier.data, request.remote_addr
    outcome = run_in_transaction(lambda: password_reset.request_code(identifier, ip, utcnow()))
    if isinstance(outcome, password_reset.Throttled):
        form.identifier.errors.append(_("Too many codes were asked for. Try again in %(minutes)s minutes.",
                                        minutes=outcome.minutes))
        return render_template("public/forgot.html", form=form), 429
    code_form = ResetCodeForm(formdata=None, identifier=identifier)
    response = make_response(render_template("public/reset_code.html", form=code_form, asked=True))
    return codes.after_response(response, lambda: password_reset.issue_code(outcome))  # once the answer is sent


def reset_code():
    """Enter a code (sent after "forgot password", or given by a manager) to choose a new password."""
    form = ResetCodeForm()
    if not form.validate_on_submit():
        return render_template("public/reset_code.html", form=form), 400 if form.is_submitted() else 200
    identifier, code = form.identifier.data, form.code.data
    user = run_in_transaction(lambda: password_reset.redeem_code(identifier, code, utcnow(), request.remote_addr))
    if user is None:
        form.code.errors.append(_("The code is wrong, used or expired, or does not belong to this account. A code "
                                  "stops working after 5 wrong tries."))
        return render_template("public/reset_code.html", form=form), 400
    begin_session(user, "reset_code")
    flash(_("Choose a new password to continue."), "info")
    return redirect(url_for("public.change_password"), 303)


def reset_link(token: str):
    """A one-time set-password link: opening it spends nothing; confirming logs in to choose a new password."""
    now = utcnow()
    if request.method == "GET":
        user = password_reset.link_user(token, now)
        if user is None:  # an informative page (a link is opened from mail or chat, not typed)
            return render_template("public/reset_link.html", valid=False)
        return render_template("public/reset_link.html", valid=True, username=user.username)
    user = run_in_transaction(lambda: password_reset.redeem_link(token, now, request.remote_addr))
    if user is None:
        return render_template("public/reset_link.html", valid=False), 404
    begin_session(user, "reset_link")
    flash(_("Choose a new password to continue."), "info")
    return redirect(url_for("public.change_password"), 303)

