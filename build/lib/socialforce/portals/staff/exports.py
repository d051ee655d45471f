"""Staff exports: households, service items and orders in the user's scope as .xlsx or .csv (IDs masked)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
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
from socialforce.platform.services.exports import large
from socialforce.platform.transactions import run_in_transaction
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


def _export(table: str, fmt: str, filters: dict):
    """Send the list directly, or (over EXPORT_DIRECT_MAX_ROWS rows) queue it as a job and show its progress."""
    fmt = _format(fmt)
    job = run_in_transaction(lambda: large.submit_if_large(table, fmt, current_user, filters))
    if job is not None:
        flash(_("This export has more than %(n)s rows: it is written in the background; download it from this "
                "page when it is ready.", n=large.direct_max_rows()), "info")
        return redirect(url_for("staff.job_page", job_id=job.id))
    return _send(fmt, large.titles()[table], large.direct_table(table, current_user, filters), table)


def export_households(fmt: str):
    """The households search (same filters as the households page) as a spreadsheet."""
    args = request.args
    return _export("households", fmt, {"q": args.get("q"), "id_suffix": args.get("id_suffix"),
                                       "town": _town_filter(), "category": args.get("category")})


def export_items(fmt: str):
    """Service items in scope, optionally by status, town and service category."""
    return _export("items", fmt, {"status": request.args.get("status"), "town": _town_filter(),
                                  "category": request.args.get("category", type=int)})


def export_orders(fmt: str):
    """Orders in scope with the orders board's filters (state, town, category, provider, dates, number)."""
    found = {k: request.args.get(k) for k in ("category", "provider", "from", "to", "number") if request.args.get(k)}
    return _export("orders", fmt, {"state": request.args.get("state"), "town": _town_filter(), **found})
