"""Profile pages of the provider portals: the organisation's profile (everyone sees it, the administrator edits
it)."""
from __future__ import annotations

import sqlalchemy as sa
from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from socialforce.platform import reference
from socialforce.platform.extensions import db
from socialforce.platform.localtime import today
from socialforce.platform.models import Provider, Qualification
from socialforce.platform.reference import QUALIFICATIONS
from socialforce.platform.services import provider_profiles as profiles
from socialforce.platform.transactions import run_in_transaction
from socialforce.portals.forms import parse_float
from socialforce.portals.provider.access import is_admin, own_provider, portal, require_admin


def profile_values(provider: Provider) -> dict:
    """The profile form's values from the organisation."""
    return {"name": provider.name, "contact_name": provider.agency.contact_name if provider.agency else "",
            "town_id": provider.town_id, "radius_km": f"{provider.radius_km:g}", "lat": f"{provider.lat:.6f}",
            "lon": f"{provider.lon:.6f}"}


def profile():
    """The organisation's profile, qualifications and status."""
    provider = own_provider()
    qualifications = db.session.scalars(sa.select(Qualification).where(
        Qualification.provider_id == provider.id).order_by(Qualification.code)).all()
    return render_template("provider/profile.html", portal=portal(), provider=provider,
                           qualifications=qualifications, qualification_names=QUALIFICATIONS, today=today(),
                           quota=profiles.monthly_quota(provider), can_edit=is_admin())


def profile_edit():
    """Edit the organisation's name, contact, home town, place and travel radius."""
    require_admin()
    provider = own_provider()
    towns = reference.home_towns(provider)
    if request.method == "GET":
        return render_template("provider/profile_form.html", portal=portal(), provider=provider, towns=towns,
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
        return render_template("provider/profile_form.html", portal=portal(), provider=own_provider(),
                               towns=towns, values=values, errors=e.errors), 400
    flash(_("The profile was saved."), "success")
    return redirect(url_for(f"{portal()}.profile"), 303)
