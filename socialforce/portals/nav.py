"""The navigation each role sees: only what its portal lets it use."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from socialforce.platform.auth import portal_of
from socialforce.platform.models import Role, User

NAV: dict[str, list[tuple[str, object]]] = {
    "staff": [("staff.home", _l("Overview")), ("staff.households", _l("Households")),
              ("staff.matching_review", _l("Matching")), ("staff.orders_board", _l("Orders")), ("staff.dashboard_page", _l("Dashboard")),
              ("staff.imports", _l("Import")), ("staff.exports", _l("Export")), ("staff.jobs", _l("My jobs")),
              ("staff.calendar", _l("Calendar")), ("staff.hours", _l("Hours")),
              ("staff.follow_ups", _l("Follow-ups")), ("staff.drafts", _l("Village needs")),
              ("staff.providers_list", _l("Providers")), ("staff.agencies", _l("Organisations")),
              ("staff.pairings", _l("Pairings")), ("staff.accounts", _l("Accounts")),
              ("staff.partners", _l("Partner systems")), ("staff.audit_log", _l("Audit log"))],
    "agency": [("agency.home", _l("Overview")), ("agency.orders", _l("Orders")), ("agency.calendar", _l("Calendar")),
               ("agency.offers", _l("Offers")), ("agency.workers", _l("Social workers")),
               ("agency.contracts", _l("Contracts")), ("agency.profile", _l("Profile"))],
    "unit": [("unit.home", _l("Overview")), ("unit.households", _l("Households")), ("unit.orders", _l("Orders")),
             ("unit.calendar", _l("Calendar")), ("unit.offers", _l("Offers")), ("unit.cadres", _l("Cadres")),
             ("unit.profile", _l("Profile"))],
    "volunteer": [("volunteer.home", _l("Overview")), ("volunteer.tasks", _l("Tasks")), ("volunteer.calendar", _l("Calendar")), ("volunteer.hours", _l("Hours")),
                  ("volunteer.profile", _l("My profile"))],
    "village": [("village.home", _l("My village")), ("village.drafts", _l("Needs I recorded")),
                ("village.follow_ups", _l("Follow-ups"))],
}


# Pages only one role of a portal may open: the organisation's administrator (social workers and cadres get 403
# there), city staff for the register of organisations and the accounts pages (town staff get 403).
ADMIN_ONLY: dict[str, Role] = {"agency.workers": Role.agency_admin, "unit.cadres": Role.unit_admin,
                               "staff.agencies": Role.city_staff, "staff.accounts": Role.city_staff,
                               "staff.partners": Role.city_staff}


def portal_nav(user: User) -> list[tuple[str, object]]:
    """(endpoint, label) pairs for the user's portal."""
    return [(endpoint, label) for endpoint, label in NAV[portal_of(user.role)]
            if endpoint not in ADMIN_ONLY or ADMIN_ONLY[endpoint] == user.role]
