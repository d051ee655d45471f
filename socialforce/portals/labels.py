"""Translated labels for enum values and bilingual reference rows, available in every template."""
from __future__ import annotations

from flask import Flask

from socialforce.platform.i18n import select_locale
from socialforce.platform.labels import ITEM_STATUS, ORDER_STATE, PRIORITY
from socialforce.portals.nav import portal_nav


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
