"""The navigation each role sees: only what its portal lets it use, the most used items first; the rest folded into
a "More" dropdown so the top menu fits on one row from 1,024 px up in both languages."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from socialforce.platform.auth import portal_of
from socialforce.platform.models import Role, User

NAV: dict[str, list[tuple[str, object]]] = {
    "staff": [("staff.home", _l("Overview")), ("staff.households", _l("Households")),
              ("staff.matching_review", _l("Matching")), ("staff.orders_board", _l("Orders")),
              ("staff.dashboard_page", _l("Dashboard")), ("staff.calendar", _l("Calendar")),
              ("staff.follow_ups", _l("Follow-ups")), ("staff.drafts", _l("Village needs")),
              ("staff.hours", _l("Hours")), ("staff.imports", _l("Import")), ("staff.exports", _l("Export")),
              ("staff.jobs", _l("My jobs")), ("staff.providers_list", _l("Providers")),
              ("staff.agencies", _l("Organisations")), ("staff.pairings", _l("Pairings")),
              ("staff.grants", _l("Cross-county grants")), ("staff.accounts", _l("Accounts")),
              ("staff.partners", _l("Partner systems")), ("staff.audit_log", _l("Audit log"))],
    "agency": [("agency.home", _l("Overview")), ("agency.orders", _l("Orders")), ("agency.calendar", _l("Calendar")),
               ("agency.offers", _l("Offers")), ("agency.workers", _l("Social workers")),
               ("agency.contracts", _l("Contracts")), ("agency.profile", _l("Profile"))],
    "unit": [("unit.home", _l("Overview")), ("unit.households", _l("Households")), ("unit.orders", _l("Orders")),
             ("unit.calendar", _l("Calendar")), ("unit.offers", _l("Offers")), ("unit.cadres", _l("Cadres")),
             ("unit.profile", _l("Profile"))],
    "volunteer": [("volunteer.home", _l("Overview")), ("volunteer.tasks", _l("Tasks")),
                  ("volunteer.calendar", _l("Calendar")), ("volunteer.hours", _l("Hours")),
                  ("volunteer.profile", _l("My profile"))],
    "village": [("village.home", _l("My village")), ("village.drafts", _l("Needs I recorded")),
                ("village.follow_ups", _l("Follow-ups"))],
}

# How many of a portal's items stay on the bar; the others go under "More". Chosen so that the bar (with the
# person's name, the inbox and the language switch) fits on one row at 1,024 px in English, the longer language;
# tests/browser/test_screens.py measures it for every role in both languages.
MAIN_ITEMS: dict[str, int] = {"staff": 5, "agency": 4, "unit": 4, "volunteer": 5, "village": 3}


# Pages only one role of a portal may open: the organisation's administrator (social workers and cadres get 403
# there), city staff for the register of organisations and the accounts pages (town staff get 403).
ADMIN_ONLY: dict[str, Role] = {"agency.workers": Role.agency_admin, "unit.cadres": Role.unit_admin,
                               "staff.agencies": Role.city_staff, "staff.accounts": Role.city_staff,
                               "staff.partners": Role.city_staff, "staff.grants": Role.city_staff}


def portal_nav(user: User) -> list[tuple[str, object]]:
    """(endpoint, label) pairs for the user's portal."""
    return [(endpoint, label) for endpoint, label in NAV[portal_of(user.role)]
            if endpoint not in ADMIN_ONLY or ADMIN_ONLY[endpoint] == user.role]


def portal_menu(user: User) -> tuple[list[tuple[str, object]], list[tuple[str, object]]]:
    """The user's menu as (items on the bar, items under "More"); "More" is empty when everything fits."""
    items = portal_nav(user)
    keep = MAIN_ITEMS[portal_of(user.role)]
    if len(items) <= keep + 1:  # a "More" holding one item takes the room of that item
        return items, []
    return items[:keep], items[keep:]
