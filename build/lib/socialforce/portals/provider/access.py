"""Who is who in a provider portal: the portal being served, its worker role, the administrator rule, the
user's own organisation."""
from __future__ import annotations

from flask import abort, request
from flask_login import current_user

from socialforce.platform.extensions import db
from socialforce.platform.models import MemberRole, Provider, Role

ADMIN_ROLES = (Role.agency_admin, Role.unit_admin)
WORKER_ROLES = {"agency": MemberRole.social_worker, "unit": MemberRole.cadre}


def portal() -> str:
    """The blueprint serving this request: "agency" or "unit" (its endpoints carry the same names)."""
    return request.blueprint


def worker_role() -> MemberRole:
    """The members who serve this portal's orders: social workers (agency) or cadres (unit)."""
    return WORKER_ROLES[portal()]


def is_admin() -> bool:
    """Whether the user administers their organisation."""
    return current_user.role in ADMIN_ROLES


def require_admin() -> None:
    """403 unless the user administers their organisation."""
    if not is_admin():
        abort(403)


def own_provider() -> Provider:
    """The logged-in user's organisation."""
    return db.session.get(Provider, current_user.provider_id)
