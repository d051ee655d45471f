"""The navigation each role sees: only what its portal lets it use."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from socialforce.platform.auth import portal_of
from socialforce.platform.models import User

NAV: dict[str, list[tuple[str, object]]] = {
    "staff": [("staff.home", _l("Overview")), ("staff.households", _l("Households")),
              ("staff.matching_review", _l("Matching")), ("staff.orders_board", _l("Orders")), ("staff.dashboard_page", _l("Dashboard")),
              ("staff.imports", _l("Import")), ("staff.exports", _l("Export")),
              ("staff.calendar", _l("Calendar")), ("staff.hours", _l("Hours"))],
    "agency": [("agency.home", _l("Overview")), ("agency.orders", _l("Orders")), ("agency.calendar", _l("Calendar"))],
    "unit": [("unit.home", _l("Overview")), ("unit.orders", _l("Orders")), ("unit.calendar", _l("Calendar"))],
    "volunteer": [("volunteer.home", _l("Overview")), ("volunteer.tasks", _l("Tasks")), ("volunteer.calendar", _l("Calendar")), ("volunteer.hours", _l("Hours"))],
}


def portal_nav(user: User) -> list[tuple[str, object]]:
    """(endpoint, label) pairs for the user's portal."""
    return NAV[portal_of(user.role)]
