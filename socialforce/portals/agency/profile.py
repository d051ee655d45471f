"""Profile and staff pages of the provider portals (agency here; the unit portal registers the same routes):
the organisation's profile (everyone sees it, the administrator edits it) and its social workers or cadres
(administrator only: list, add with a login, edit, deactivate, reactivate)."""
from __future__ import annotations

import math

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from socialforce.platform import reference
from socialforce.platform.extensions import db
from socialforce.platform.localtime import today
from socialforce.platform.models import MemberRole, Provider, Qualification, utcnow
from socialforce.platform.reference import QUALIFICATIONS
from socialforce.platform.services import ServiceError
from socialforce.platform.services import provider_profiles as profiles
from socialforce.platform.transactions import run_in_transaction
from socialforce.portals.provider_offers import require_admin
from socialforce.portals.provider_orders import ADMIN_ROLES


def parse_float(text: str | None, empty: float | None = None) -> float | None:
    """A decimal number from a text field; `empty` when left empty; NaN when it is not a number (refused later)."""
    text = (text or "").strip()
    if not text:
        return empty
    try:
        return float(text)
    except ValueError:
        return math.nan


def own_provider() -> Provider:
    """The logged-in user's organisation."""
    return db.session.get(Provider, current_user.provider_id)


def profile_values(provider: Provider) -> dict:
    """The profile form's values from the organisation."""
    return {"name": provider.name, "contact_name": provider.agency.contact_name if provider.agency else "",
            "town_id": provider.town_id, "radius_km": f"{provider.radius_km:g}", "lat": f"{provider.lat:.6f}",
            "lon": f"{provider.lon:.6f}"}


def register_profile_routes(bp: Blueprint) -> None:
    """Add the profile routes to a provider portal's blueprint."""
    portal = bp.name

    @bp.get("/profile", endpoint="profile")
    def profile():
        """The organisation's profile, qualifications and status."""
        provider = own_provider()
        qualifications = db.session.scalars(sa.select(Qualification).where(
            Qualification.provider_id == provider.id).order_by(Qualification.code)).all()
        return render_template("provider/profile.html", portal=portal, provider=provider,
                               qualifications=qualifications, qualification_names=QUALIFICATIONS, today=today(),
                               quota=profiles.monthly_quota(provider), can_edit=current_user.role in ADMIN_ROLES)

    @bp.route("/profile/edit", methods=["GET", "POST"], endpoint="profile_edit")
    def profile_edit():
        """Edit the organisation's name, contact, home town, place and travel radius."""
        require_admin()
        provider = own_provider()
        towns = reference.towns()
        if request.method == "GET":
            return render_template("provider/profile_form.html", portal=portal, provider=provider, towns=towns,
                                   values=profile_values(provider), errors={})
        form = request.form
        data = profiles.ProfileInput(
            name=form.get("name", ""), contact_name=form.get("contact_name"),
            town_id=form.get("town_id", type=int),
            radius_km=parse_float(form.get("radius_km")), lat=parse_float(form.get("lat")),
            lon=parse_float(form.get("lon")))
        try:
            run_in_transaction(lambda: profiles.update_profile(provider, data, current_user))
        except profiles.ProfileInvalid as e:
            values = {k: form.get(k, "") for k in ("name", "contact_name", "radius_km", "lat", "lon")}
            values["town_id"] = data.town_id
            return render_template("provider/profile_form.html", portal=portal, provider=own_provider(),
                                   towns=towns, values=values, errors=e.errors), 400
        flash(_("The profile was saved."), "success")
        return redirect(url_for(f"{portal}.profile"), 303)


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


def register_member_routes(bp: Blueprint, role: MemberRole) -> None:
    """Add the social-worker (agency) or cadre (unit) pages to a provider portal's blueprint."""
    portal = bp.name
    segment, param, stem = MEMBER_PAGES[role]

    def member_or_404(member_id: int):
        member = profiles.get_member(member_id, current_user.provider_id, role)
        if member is None:
            abort(404)
        return member

    def render_form(member, values: dict, errors: dict, status: int = 200):
        return render_template("provider/member_form.html", portal=portal, role=role, member=member, values=values,
                               errors=errors, stem=stem, param=param,
                               levels=profiles.CERTIFICATE_LEVELS), status

    def member_list():
        """The organisation's social workers or cadres, active first."""
        require_admin()
        page = db.paginate(profiles.members_query(own_provider(), role), per_page=current_app.config["PAGE_SIZE"],
                           error_out=False)
        return render_template("provider/members.html", portal=portal, role=role, page=page, stem=stem,
                               param=param, segment=segment, levels=profiles.CERTIFICATE_LEVELS)

    def member_new():
        """Add a social worker or cadre with their own login."""
        require_admin()
        if request.method == "GET":
            return render_form(None, {"certificate_level": "social_worker"}, {})
        data = member_input(request.form, adding=True)
        try:
            member = run_in_transaction(lambda: profiles.add_member(own_provider(), role, data, current_user))
        except profiles.ProfileInvalid as e:
            return render_form(None, _member_values(request.form), e.errors, 400)
        except sa.exc.IntegrityError:  # the same username registered concurrently
            return render_form(None, _member_values(request.form),
                               {"username": _("This username is taken; choose another.")}, 400)
        flash(_("%(name)s was added and can now log in as %(username)s.", name=member.name,
                username=data.username.strip()), "success")
        return redirect(url_for(f"{portal}.{segment}"), 303)

    def member_edit(**kwargs):
        """Edit a member's name, phone and certificate level."""
        require_admin()
        member = member_or_404(kwargs[param])
        if request.method == "GET":
            return render_form(member, {"name": member.name, "phone": "",
                                        "certificate_level": member.certificate_level}, {})
        data = member_input(request.form, adding=False)
        try:
            run_in_transaction(lambda: profiles.update_member(member, data, current_user))
        except profiles.ProfileInvalid as e:
            return render_form(member_or_404(kwargs[param]), _member_values(request.form), e.errors, 400)
        flash(_("The changes were saved."), "success")
        return redirect(url_for(f"{portal}.{segment}"), 303)

    def member_status(**kwargs):
        """Deactivate (logins stop at once) or reactivate a member."""
        require_admin()
        member = member_or_404(kwargs[param])
        active = request.form.get("active") == "1"
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
        return redirect(url_for(f"{portal}.{segment}"), 303)

    bp.add_url_rule(f"/{segment}", segment, member_list)
    bp.add_url_rule(f"/{segment}/new", f"{stem}_new", member_new, methods=["GET", "POST"])
    bp.add_url_rule(f"/{segment}/<int:{param}>/edit", f"{stem}_edit", member_edit, methods=["GET", "POST"])
    bp.add_url_rule(f"/{segment}/<int:{param}>/status", f"{stem}_status", member_status, methods=["POST"])


def _member_values(form) -> dict:
    return {"name": form.get("name", ""), "phone": form.get("phone", ""),
            "certificate_level": form.get("certificate_level"), "username": form.get("username", "")}
