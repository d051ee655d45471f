"""Agency portal views."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from socialforce.platform.auth import PORTAL_ROLES, guard
from socialforce.platform.services import overview
from socialforce.portals import provider_orders

bp = Blueprint("agency", __name__, template_folder="templates")
guard(bp, PORTAL_ROLES["agency"])
provider_orders.register(bp, "agency")


@bp.get("/")
def home():
    """The agency's orders, contracts and latest orders."""
    return render_template("agency/home.html", data=overview.provider_overview(current_user))
