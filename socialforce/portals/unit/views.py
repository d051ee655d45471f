"""Pairing-unit portal views."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from socialforce.platform.auth import PORTAL_ROLES, guard
from socialforce.platform.models import MemberRole
from socialforce.platform.services import overview
from socialforce.portals import provider_offers, provider_orders
from socialforce.portals.agency.profile import register_member_routes, register_profile_routes

bp = Blueprint("unit", __name__, template_folder="templates")
guard(bp, PORTAL_ROLES["unit"])
provider_orders.register(bp, "unit")
provider_offers.register(bp, "unit")
register_profile_routes(bp)
register_member_routes(bp, MemberRole.cadre)


@bp.get("/")
def home():
    """The unit's paired households and orders."""
    return render_template("unit/home.html", data=overview.provider_overview(current_user))
