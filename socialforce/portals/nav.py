"""The navigation each role sees: only what its portal lets it use."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from socialforce.platform.auth import portal_of
from socialforce.platform.models import User

NAV: dict[str, list[tuple[str, object]]] = {
    "staff": [("staff.home", _l("Overview")), ("staff.households", _l("Households"))],
    "agency": [("agency.home", _l("Overview"))],
    "unit": [("unit.home", _l("Overview"))],
    "volunteer": [("volunteer.home", _l("Overview"))],
}


def portal_nav(user: User) -> list[tuple[str, object]]:
    """(endpoint, label) pairs for the user's portal."""
    return NAV[portal_of(user.role)]
