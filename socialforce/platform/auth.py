"""Authentication (Flask-Login) and the role guard used by every portal blueprint."""
from __future__ import annotations

from collections.abc import Iterable

from flask import Blueprint, Flask, abort, redirect, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from socialforce.platform.extensions import db, login_manager
from socialforce.platform.models import Role, User

STAFF_ROLES = frozenset({Role.prefecture_staff, Role.city_staff, Role.town_staff})
READ_ONLY_ROLES = frozenset({Role.prefecture_staff})  # see every county, change nothing
PORTAL_ROLES: dict[str, frozenset[Role]] = {
    "staff": STAFF_ROLES,
    "agency": frozenset({Role.agency_admin, Role.social_worker}),
    "unit": frozenset({Role.unit_admin, Role.cadre}),
    "volunteer": frozenset({Role.volunteer}),
    "village": frozenset({Role.village_assistant}),
}


def portal_of(role: Role) -> str:
    """The portal (blueprint name) a role belongs to."""
    return next(name for name, roles in PORTAL_ROLES.items() if role in roles)


def init_app(app: Flask) -> None:
    """Configure Flask-Login."""
    login_manager.login_view = "public.login"
    login_manager.login_message = _l("Please log in to continue.")
    login_manager.login_message_category = "warning"
    login_manager.session_protection = "strong"


@login_manager.user_loader
def load_user(identity: str) -> User | None:
    """Load a user from 'id:session_version'; an older version (logged out everywhere) loads nobody."""
    user_id, _, version = identity.partition(":")
    if not user_id.isdigit() or not version.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active or user.session_version != int(version):
        return None
    return user


def guard(bp: Blueprint, roles: Iterable[Role]) -> None:
    """Admit only logged-in users with one of `roles` to every view of the blueprint (403 otherwise)."""
    allowed = frozenset(roles)

    @bp.before_request
    def _require_role():
        if not current_user.is_authenticated:
            return redirect(url_for("public.login", next=request.full_path))
        if current_user.role not in allowed:
            abort(403)
        return None


def read_only(bp: Blueprint, writes_allowed: Iterable[str] = (), also_denied: Iterable[str] = ()) -> None:
    """Refuse READ_ONLY_ROLES (403) every change through the blueprint: any request but GET/HEAD, the GET of a
    form (a rule that also takes POST) and the endpoints in `also_denied`; `writes_allowed` are the exceptions
    (the audited reveal)."""
    allowed, denied = frozenset(writes_allowed), frozenset(also_denied)

    @bp.before_request
    def _read_only():
        if not current_user.is_authenticated or current_user.role not in READ_ONLY_ROLES:
            return None
        if request.endpoint in allowed:
            return None
        rule = request.url_rule
        if (request.method not in ("GET", "HEAD") or request.endpoint in denied
                or (rule is not None and "POST" in (rule.methods or ()))):
            abort(403)
        return None
