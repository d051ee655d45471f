"""Translated labels for enum values and bilingual reference rows, available in every template."""
from __future__ import annotations

from flask import Flask
from flask_babel import lazy_gettext as _l

from socialforce.platform.i18n import select_locale
from socialforce.portals.nav import portal_nav

PRIORITY = {"normal": _l("Normal"), "high": _l("High"), "urgent": _l("Urgent")}
ITEM_STATUS = {"open": _l("Open"), "dispatched": _l("Dispatched"), "in_service": _l("In service"),
               "closed": _l("Closed")}
ORDER_STATE = {
    "proposed": _l("Proposed"), "dispatched": _l("Dispatched"), "accepted": _l("Accepted"),
    "declined": _l("Declined"), "expired": _l("Expired"), "scheduled": _l("Scheduled"),
    "in_service": _l("In service"), "completed": _l("Completed"), "evaluated": _l("Evaluated"),
    "cancelled": _l("Cancelled"),
}


def bilingual(row) -> str:
    """A reference row's name in the current language (rows carry name_zh and name_en)."""
    return row.name_zh if select_locale() == "zh_CN" else row.name_en


def without_page(args) -> dict:
    """Query arguments minus `page`, for pagination links."""
    return {k: v for k, v in args.items() if k != "page"}


def init_app(app: Flask) -> None:
    """Expose the label helpers to templates."""
    app.jinja_env.globals.update(
        category_label=bilingual,
        town_label=bilingual,
        priority_label=lambda v: PRIORITY[str(v)],
        item_status_label=lambda v: ITEM_STATUS[str(v)],
        order_state_label=lambda v: ORDER_STATE[str(v)],
        without_page=without_page,
        portal_nav=portal_nav,
    )
