"""The words for stored codes (enum values, ranking features): one translated label each, for services
(messages, exports) and, through `portals/page_helpers.py`, templates."""
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

FEATURE_NAMES = {
    "text": _l("Description match"), "distance": _l("Distance"), "pairing": _l("Pairing"),
    "continuity": _l("Served before"), "track_record": _l("Track record"), "priority": _l("Household vulnerability"),
    "load": _l("Free capacity"),
}
REASONS = {
    "text": _l("The request and the offer describe similar help (similarity %(value).2f)"),
    "distance": _l("About %(value).1f km away"),
    "pairing": _l("Already paired with this household"),
    "continuity": _l("Has served this household before"),
    "track_record": _l("Track record: acceptance, completion and satisfaction (%(value).2f)"),
    "priority": _l("Household vulnerability (%(value).2f)"),
    "load": _l("Share of capacity still free (%(value).2f)"),
    "window_fit": _l("Your free time fits the household's preferred times (%(value).2f)"),
}
VISIT_STATUS = {"planned": _l("Planned"), "checked_in": _l("Checked in"), "completed": _l("Completed"),
                "missed": _l("Missed"), "cancelled": _l("Cancelled")}
VISIT_FLAG = {"short_stay": _l("Very short visit"), "off_schedule": _l("Check-in far from the planned time"),
              "far_away": _l("Checked in or out far from the village")}
FEEDBACK_CHANNEL = {"staff_phone": _l("Staff, by telephone"), "staff_visit": _l("Staff, at the household"),
                    "assistant_visit": _l("Village assistant, at the household"),
                    "household_sms": _l("The household, by SMS link")}
FREQUENCY = {"once": _l("One-off"), "weekly": _l("Weekly"), "monthly": _l("Monthly")}
