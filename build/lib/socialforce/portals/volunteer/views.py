"""Volunteer portal views."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from socialforce.platform.auth import PORTAL_ROLES, guard
from socialforce.platform.services import overview

bp = Blueprint("volunteer", __name__, template_folder="templates")
guard(bp, PORTAL_ROLES["volunteer"])


def home():
    """The volunteer's profile, hours and nearby open tasks."""
    return render_template("volunteer/home.html", data=overview.volunteer_overview(current_user))
