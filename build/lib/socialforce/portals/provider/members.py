"""Member pages of the provider portals: the organisation's social workers (agency) or cadres (unit), for its
administrator only: list, add with a login, edit, deactivate, reactivate, and a one-time set-password link or code
for a member who forgot their password (shown once)."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from socialforce.platform.models import MemberRole, utcnow
from socialforce.platform.services import ServiceError, password_reset
from socialforce.platform.services import provider_profiles as profiles
from socialforce.platform.transactions import run_in_transaction
from socialforce.portals import confirm
from socialforce.portals.links import reset_link_path
from socialforce.portals.page_helpers import paginated
from socialforce.portals.provider.access import own_provider, portal, require_admin, worker_role

MEMBER_PAGES = {
    # role -> (URL segment, URL parameter, endpoint stem)
    MemberRole.social_worker: ("workers", "worker_id", "worker"),
    MemberRole.cadre: ("cadres", "cadre_id", "cadre"),
}


def member_input(form, adding: bool) -> profiles.MemberInput:
    """The service input from a submitted member form (editing: an empty phone keeps the stored one)."""
    phone = form.get("phone", "").strip()
    if not adding and not phone:
        phone = "" if form.get("remove_phone") else None
    return profiles.MemberInput(
        name=form.get("name", ""), phone=phone,
        certificate_level=form.get("certificate_level") or None,
        username=form.get("username", "") if adding else None, password=form.get("password", "") if adding else None)


def _member_values(form) -> dict:
    return {"name": form.get("name", ""), "phone": form.get("phone", ""),
            "certificate_level": form.get("certificate_level"), "username": form.get("username", "")}


def _list_url() -> str:
    segment, _param, _stem = MEMBER_PAGES[worker_role()]
    return url_for(f"{portal()}.{segment}")


def _member_or_404(kwargs: dict):
    role = worker_role()
    member = profiles.get_member(kwargs[MEMBER_PAGES[role][1]], current_user.provider_id, role)
    if member is None:
        abort(404)
    return member


def _render_form(member, values: dict, errors: dict, status: int = 200):
    role = worker_role()
    _segment, param, stem = MEMBER_PAGES[role]
    return render_template("provider/member_form.html", portal=portal(), role=role, member=member, values=values,
                           errors=errors, stem=stem, param=param, levels=profiles.CERTIFICATE_LEVELS), status


def member_list():
    """The organisation's social workers or cadres, active first."""
    require_admin()
    role = worker_role()
    segment, param, stem = MEMBER_PAGES[role]
    page = paginated(profiles.members_query(own_provider(), role))
    return render_template("provider/members.html", portal=portal(), role=role, page=page, stem=stem,
                           param=param, segment=segment, levels=profiles.CERTIFICATE_LEVELS)


def member_new():
    """Add a social worker or cadre with their own login."""
    require_admin()
    if request.method == "GET":
        return _render_form(None, {"certificate_level": "social_worker"}, {})
    data = member_input(request.form, adding=True)
    try:
        member = run_in_transaction(lambda: profiles.add_member(own_provider(), worker_role(), data, current_user))
    except profiles.ProfileInvalid as e:
        return _render_form(None, _member_values(request.form), e.errors, 400)
    except sa.exc.IntegrityError:  # the same username registered concurrently
        return _render_form(None, _member_values(request.form),
                            {"username": _("This username is taken; choose another.")}, 400)
    flash(_("%(name)s was added and can now log in as %(username)s.", name=member.name,
            username=data.username.strip()), "success")
    return redirect(_list_url(), 303)


def member_edit(**kwargs):
    """Edit a member's name, phone and certificate level."""
    require_admin()
    member = _member_or_404(kwargs)
    if request.method == "GET":
        return _render_form(member, {"name": member.name, "phone": "", "certificate_level": member.certificate_level},
                            {})
    data = member_input(request.form, adding=False)
    try:
        run_in_transaction(lambda: profiles.update_member(member, data, current_user))
    except profiles.ProfileInvalid as e:
        return _render_form(_member_or_404(kwargs), _member_values(request.form), e.errors, 400)
    flash(_("The changes were saved."), "success")
    return redirect(_list_url(), 303)


def member_status(**kwargs):
    """Deactivate (logins stop at once) or reactivate a member."""
    require_admin()
    member = _member_or_404(kwargs)
    active = request.form.get("active") == "1"
    if not active and not confirm.confirmed():
        work = profiles.open_work(member, utcnow())
        return confirm.ask(_("Deactivate %(name)s?", name=member.name),
                           _("%(name)s can no longer log in, at once. %(name)s still holds %(orders)s open orders and "
                             "%(visits)s planned visits, which staff must reassign.", name=member.name,
                             orders=work.orders, visits=work.visits),
                           _("Deactivate"), _list_url(), danger=True)
    try:
        work = run_in_transaction(lambda: profiles.set_member_active(member, active, current_user, utcnow()))
    except ServiceError as e:
        flash(e.message, "danger")
    else:
        if active:
            flash(_("%(name)s is active again and can log in.", name=member.name), "success")
        else:
            flash(_("%(name)s was deactivated and can no longer log in.", name=member.name), "success")
            if work.orders or work.visits:
                flash(_("%(name)s still holds %(orders)s open orders and %(visits)s planned visits. Ask "
                        "civil-affairs staff to reassign them.", name=member.name, orders=work.orders,
                        visits=work.visits), "warning")
    return redirect(_list_url(), 303)


def member_reset(**kwargs):
    """Issue a one-time set-password link or 8-character code for the member's login (valid 24 h, shown once)."""
    require_admin()
    member = _member_or_404(kwargs)
    logins = [user for user in profiles.member_logins(member) if user.active]
    if not logins:
        flash(_("%(name)s has no active login; reactivate them first.", name=member.name), "danger")
        return redirect(_list_url(), 303)
    kind = request.form.get("kind", "")
    try:
        issued = run_in_transaction(lambda: password_reset.issue_reset(logins[0], kind, current_user, utcnow(),
                                                                       request.remote_addr))
    except ServiceError as e:
        flash(e.message, "danger")
        return redirect(_list_url(), 303)
    link = request.host_url.rstrip("/") + reset_link_path(issued.secret) if issued.kind == "link" else None
    return render_template("provider/member_reset.html", account=logins[0], issued=issued, link=link,
                           back=_list_url())
