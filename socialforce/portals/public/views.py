"""Views: home redirect, login, logout, language switch."""
from __future__ import annotations

from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from socialforce.platform import reference
from socialforce.platform.auth import portal_of
from socialforce.platform.models import utcnow
from socialforce.platform.services import ServiceError, accounts, audit, volunteers
from socialforce.platform.transactions import run_in_transaction
from socialforce.portals.forms import refuse
from socialforce.portals.page_helpers import bilingual, mask_from_form
from socialforce.portals.public.forms import LoginForm, VolunteerSignupForm

bp = Blueprint("public", __name__, template_folder="templates")


def _safe_next(target: str | None) -> str | None:
    """A same-site relative path from ?next=, or None."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def index():
    """Send a logged-in user to their portal, others to the login page."""
    if current_user.is_authenticated:
        return redirect(url_for(f"{portal_of(current_user.role)}.home"))
    return redirect(url_for("public.login"))


def login():
    """Log in; the session is cleared first so no earlier session id survives (session fixation)."""
    form = LoginForm()
    if form.validate_on_submit():
        username, ip, now = form.username.data, request.remote_addr, utcnow()
        lock = run_in_transaction(lambda: accounts.reserve_login(username, ip, now))
        if lock is not None:  # the same answer whether or not the account exists
            flash(_("Too many failed logins. Try again in %(minutes)s minutes.", minutes=lock.minutes), "danger")
            return render_template("public/login.html", form=form), 429
        user = accounts.authenticate(username, form.password.data)
        if user is None:
            run_in_transaction(lambda: accounts.record_login_failure(username, ip, now))
            flash(_("Wrong username or password."), "danger")
            return render_template("public/login.html", form=form), 200
        accounts.login_succeeded(username, ip)
        lang = session.get("lang")
        session.clear()
        if lang:
            session["lang"] = lang
        login_user(user)
        run_in_transaction(lambda: audit.record("login", user, ip=request.remote_addr))
        flash(_("Welcome, %(name)s.", name=user.display_name), "success")
        return redirect(_safe_next(request.args.get("next")) or url_for(f"{portal_of(user.role)}.home"))
    return render_template("public/login.html", form=form)


@login_required
def logout():
    """Log out and clear the session."""
    run_in_transaction(lambda: audit.record("logout", current_user, ip=request.remote_addr))
    logout_user()
    session.clear()
    flash(_("You have logged out."), "info")
    return redirect(url_for("public.login"))


def set_language(code: str):
    """Switch the interface language (zh_CN or en)."""
    if code not in current_app.config["LANGUAGES"]:
        abort(404)
    session["lang"] = code
    return redirect(_safe_next(request.form.get("next")) or url_for("public.index"))


def volunteer_signup():
    """Public real-name volunteer sign-up with skills and weekly free time; the registration waits for staff
    approval, and its offer is matched to tasks from the moment it is approved."""
    form = VolunteerSignupForm()
    towns = reference.signup_towns()
    form.town_id.choices = ({bilingual(county): [(t.id, bilingual(t)) for t in group] for county, group in towns.items()}
                            if isinstance(towns, dict) else [(t.id, bilingual(t)) for t in towns])
    form.skills.choices = [(c.code, bilingual(c)) for c in reference.categories(volunteer_task=True)]
    availability = mask_from_form(request.form.getlist("availability"))

    def page(status: int, availability_errors=()):
        return render_template("public/volunteer_signup.html", form=form, availability=availability,
                               availability_errors=list(availability_errors)), status

    if form.validate_on_submit():
        registration = volunteers.Registration(
            username=form.username.data.strip(), password=form.password.data, real_name=form.real_name.data.strip(),
            id_number=form.id_number.data, phone=form.phone.data, town_id=form.town_id.data,
            skills=tuple(form.skills.data or ()), availability=availability)
        try:
            try:
                run_in_transaction(lambda: volunteers.register(registration))
            except sa.exc.IntegrityError:  # the same ID or username signed up at this moment: decide again
                run_in_transaction(lambda: volunteers.register(registration))
        except ServiceError as e:
            if e.field == "availability":
                return page(e.status, [e.message])
            refuse(form, e, default="username")
            return page(e.status)
        flash(_("Thank you, your registration was received. Town staff will review it and contact you by phone."),
              "success")
        return redirect(url_for("public.login"))
    if not form.is_submitted():
        return page(200)
    return page(400, [] if availability else [_("Tick at least one time of the week when you are usually free.")])
