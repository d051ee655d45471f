"""Staff exports: households, service items and orders in the user's scope as .xlsx or .csv (IDs masked)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from socialforce.platform import reference
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    AssistanceCategory,
    ItemStatus,
    OrderState,
    utcnow,
)
from socialforce.platform.services import exports, households
from socialforce.portals import downloads

FORMATS = ("xlsx", "csv")


def _format(fmt: str) -> str:
    if fmt not in FORMATS:
        abort(404)
    return fmt


def _town_filter() -> int | None:
    """The requested town for city staff; town staff are always limited to their own by scoping."""
    return request.args.get("town", type=int) if current_user.town_id is None else None


def _send(fmt: str, name: str, table, kind: str):
    header, rows = table
    stamp = utcnow().strftime("%Y%m%d")
    return downloads.send_table(kind, fmt, f"{name}-{stamp}", header, rows, sheet_name=name)


def export_page():
    """Links to every export, with the same filters as the lists."""
    towns = (
        reference.scope_towns(current_user)
    )
    return render_template(
        "staff/exports/index.html",
        towns=towns,
        assistance=db.session.scalars(sa.select(AssistanceCategory).order_by(AssistanceCategory.id)).all(),
        services=reference.categories(),
        item_states=list(ItemStatus),
        order_states=list(OrderState),
    )


def export_households(fmt: str):
    """The households search (same filters as the households page) as a spreadsheet."""
    args = request.args
    query = households.search(
        current_user, args.get("q"), args.get("id_suffix"), _town_filter(), args.get("category")
    )
    return _send(_format(fmt), _("Households"), exports.households_table(query), "households")


def export_items(fmt: str):
    """Service items in scope, optionally by status, town and service category."""
    table = exports.items_table(
        current_user, request.args.get("status"), _town_filter(), request.args.get("category", type=int)
    )
    return _send(_format(fmt), _("Service items"), table, "items")


def export_orders(fmt: str):
    """Orders in scope, optionally by state and town."""
    table = exports.orders_table(current_user, request.args.get("state"), _town_filter())
    return _send(_format(fmt), _("Orders"), table, "orders")
