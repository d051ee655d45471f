"""Translated labels for enum values, shared by services (messages) and templates."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

PRIORITY = {"normal": _l("Normal"), "high": _l("High"), "urgent": _l("Urgent")}
ITEM_STATUS = {"open": _l("Open"), "dispatched": _l("Dispatched"), "in_service": _l("In service"),
               "closed": _l("Closed")}
ORDER_STATE = {
    "proposed": _l("Proposed"), "dispatched": _l("Dispatched"), "accepted": _l("Accepted"),
    "declined": _l("Declined"), "expired": _l("Expired"), "scheduled": _l("Scheduled"),
    "in_service": _l("In service"), "completed": _l("Completed"), "evaluated": _l("Evaluated"),
    "cancelled": _l("Cancelled"),
}
