"""Accounts for city staff only: the list (filters role, town, active), creating town-staff and organisation
administrator accounts, deactivating, reactivating, and a one-time set-password link or code for any account
(shown once). Town staff get 403 on every page here except the new-account form, where they create village
assistants (村居协理员) for villages of their town."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from socialforce.platform import reference, scoping
from socialforce.platform.extensions import db
from socialforce.platform.models import Role, User, utcnow
from socialforce.platform.services import ServiceError, account_admin, password_reset
from socialforce.platform.transactions import run_in_transaction
from socialforce.portals.links import reset_link_path
from socialforce.portals.page_helpers import paginated

ROLE_LABELS = {Role.city_staff: _l("County staff"), Role.prefecture_staff: _l("Prefecture staff"), Role.town_staff: _l("Town staff"),
               Role.agency_admin: _l("Agency administrator"), Role.social_worker: _l("Social worker"),
               Role.unit_admin: _l("Pairing-unit administrator"), Role.cadre: _l("Cadre"),
               Role.volunteer: _l("Volunteer"), Role.village_assistant: _l("Village assistant")}
ACTIVE_FILTER = {"1": True, "0": False}


def require_city_staff() -> None:
    """403 unless the user is city staff (town staff may not manage accounts)."""
    if current_user.role != Role.city_staff:
        abort(403)


def _filters() -> account_admin.Filters:
    args = request.args
    role = args.get("role")
    return account_admin.Filters(role=Role(role) if role in {r.value for r in Role} else None,
                                 town_id=args.get("town", type=int), active=ACTIVE_FILTER.get(args.get("active")))


def accounts_list():
    """Every account, filtered by role, town and active, a page at a time."""
    require_city_staff()
    page = paginated(account_admin.accounts_query(_filters(), current_user))
    return render_template("staff/accounts/list.html", page=page, towns=reference.scope_towns(current_user), roles=ROLE_LABELS,
                           me=current_user.id)


def _form(values: dict, errors: dict, status: int = 200):
    managed = (account_admin.MANAGED_ROLES if current_user.role == Role.city_staff
               else account_admin.TOWN_MANAGED_ROLES)
    return render_template("staff/accounts/form.html", values=values, errors=errors,
                           towns=reference.scope_towns(current_user) or reference.towns(),
                           roles={r: ROLE_LABELS[r] for r in managed},
                           villages=account_admin.villages_for(current_user),
                           agencies=account_admin.organisations(Role.agency_admin, current_user),
                           units=account_admin.organisations(Role.unit_admin, current_user)), status


def _new_account(form) -> account_admin.NewAccount:
    role = form.get("role", "")
    provider_field = {"agency_admin": "agency_id", "unit_admin": "unit_id"}.get(role, "agency_id")
    return account_admin.NewAccount(
        username=form.get("username", ""), display_name=form.get("display_name", ""), role=role,
        town_id=form.get("town_id", type=int), provider_id=form.get(provider_field, type=int),
        reset=form.get("reset", "link"), village_id=form.get("village_id", type=int))


def _shown_once(user: User, issued: password_reset.IssuedReset, created: bool = False):
    return render_template("staff/accounts/secret.html", account=user, issued=issued, created=created,
                           link=(request.host_url.rstrip("/") + reset_link_path(issued.secret)
                                 if issued.kind == "link" else None),
                           back=url_for("staff.accounts" if current_user.role == Role.city_staff else "staff.home"))


def account_new():
    """Create a town-staff, administrator or village-assistant account (town staff: village assistants of their
    town only); its first password is set through a link or code shown once."""
    city = current_user.role == Role.city_staff
    if request.method == "GET":
        return _form({"role": request.args.get("role", "town_staff") if city else "village_assistant",
                      "reset": "link"}, {})
    data = _new_account(request.form)
    values = {key: request.form.get(key, "") for key in ("username", "display_name", "role", "town_id",
                                                          "agency_id", "unit_id", "reset", "village_id")}
    try:
        user, issued = run_in_transaction(lambda: account_admin.create_account(data, current_user, utcnow(),
                                                                               request.remote_addr))
    except account_admin.AccountInvalid as e:
        return _form(values, e.errors, 400)
    except ServiceError as e:
        return _form(values, {e.field or "username": e.message}, e.status)
    except sa.exc.IntegrityError:  # the same username created concurrently
        return _form(values, {"username": _("This username is taken; choose another.")}, 400)
    return _shown_once(user, issued, created=True)


def _account_or_404(user_id: int) -> User:
    user = db.session.scalar(sa.select(User).where(User.id == user_id, scoping.user_filter(current_user)))
    if user is None:
        abort(404)
    return user


def account_status(user_id: int):
    """Deactivate (every session of the account ends at once) or reactivate an account."""
    require_city_staff()
    user = _account_or_404(user_id)
    active = ACTIVE_FILTER.get(request.form.get("active"))
    if active is None:
        flash(_("Choose to deactivate or reactivate the account."), "danger")
        return redirect(url_for("staff.accounts"), 303)
    try:
        run_in_transaction(lambda: account_admin.set_active(user, active, current_user, request.remote_addr))
    except ServiceError as e:
        flash(e.message, "danger")
    else:
        flash(_("%(username)s is active again and can log in.", username=user.username) if active else
              _("%(username)s was deactivated and can no longer log in.", username=user.username), "success")
    return redirect(url_for("staff.accounts"), 303)


def account_reset(user_id: int):
    """Issue a one-time set-password link or 8-character code for the account (valid 24 h, shown once)."""
    require_city_staff()
    user = _account_or_404(user_id)
    kind = request.form.get("kind", "")
    try:
        issued = run_in_transaction(lambda: password_reset.issue_reset(user, kind, current_user, utcnow(),
                                                                       request.remote_addr))
    except ServiceError as e:
        flash(e.message, "danger")
        return redirect(url_for("staff.accounts"), 303)
    return _shown_once(user, issued)
