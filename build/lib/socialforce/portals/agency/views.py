"""Agency portal views: its home and contracts; the pages it shares with the unit portal come from `provider`."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from socialforce.platform.auth import PORTAL_ROLES, guard
from socialforce.platform.extensions import db
from socialforce.platform.localtime import today
from socialforce.platform.models import Provider
from socialforce.platform.services import overview
from socialforce.platform.services import provider_profiles as profiles
from socialforce.portals.page_helpers import paginated

bp = Blueprint("agency", __name__, template_folder="templates")
guard(bp, PORTAL_ROLES["agency"])


def home():
    """The agency's orders, contracts and latest orders."""
    return render_template("agency/home.html", data=overview.provider_overview(current_user))


def contracts():
    """The agency's government-purchase contracts: hours used against purchased, budget, period (read-only)."""
    provider = db.session.get(Provider, current_user.provider_id)
    page = paginated(profiles.contracts_query(provider))
    return render_template("agency/contracts.html", portal="agency", page=page, today=today())
