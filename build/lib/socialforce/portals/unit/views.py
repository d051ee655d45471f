"""Pairing-unit portal views."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from socialforce.platform.auth import PORTAL_ROLES, guard
from socialforce.platform.services import overview

bp = Blueprint("unit", __name__, template_folder="templates")
guard(bp, PORTAL_ROLES["unit"])


def home():
    """The unit's paired households and orders."""
    return render_template("unit/home.html", data=overview.provider_overview(current_user))
