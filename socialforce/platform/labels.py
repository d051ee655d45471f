"""The words for stored codes (enum values, ranking features): one translated label each, for services
(messages, exports) and, through `portals/page_helpers.py`, templates."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext

PRIORITY = {"normal": _l("Normal"), "high": _l("High"), "urgent": _l("Urgent")}
ITEM_STATUS = {"open": lazy_pgettext("item status", "Open"), "dispatched": _l("Dispatched"),
               "in_service": _l("In service"), "closed": lazy_pgettext("item status", "Closed")}
ITEM_SERVED = lazy_pgettext("item status", "Served")
"""A closed item one of whose orders was completed, unlike one staff closed with a reason."""
ITEM_CLOSED_BY_STAFF = lazy_pgettext("item status", "Closed by staff")
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

# Reasons the services themselves write on order events (people's reasons are shown as typed).
ORDER_EVENT_REASON = {
    "first visit planned": _l("first visit planned"), "first check-in": _l("first check-in"),
    "outcome recorded": _l("outcome recorded"), "response deadline passed": _l("response deadline passed"),
    "first volunteer signed up": _l("first volunteer signed up"), "order completed": _l("order completed"),
    "standing pairing order": _l("standing pairing order"),
}
CERTIFICATE_LEVEL = {"assistant": _l("Assistant social worker"), "social_worker": _l("Social worker"),
                     "senior": _l("Senior social worker")}
# Household relations are stored as the registry's Chinese words.
RELATION = {
    "户主": _l("Head of household"), "配偶": _l("Spouse"), "子女": _l("Child"), "父母": _l("Parent"),
    "孙子女": _l("Grandchild"), "祖父母": _l("Grandparent"), "兄弟姐妹": _l("Sibling"), "儿媳": _l("Daughter-in-law"),
    "女婿": _l("Son-in-law"), "其他": _l("Other relative"),
}
