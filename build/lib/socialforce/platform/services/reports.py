"""The monthly town report for the bureau: one .xlsx workbook with the dashboard's figures for one month.

Sheets: summary figures, service items by category, orders by provider, visits, household satisfaction and material
assistance totals. Figures follow the definitions in services/dashboard/ (its package docstring) with the period =
the month.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import gettext as _

from socialforce.platform.extensions import db
from socialforce.platform.i18n import select_locale
from socialforce.platform.inputs import parse_int, parse_month
from socialforce.platform.labels import ITEM_STATUS, VISIT_STATUS
from socialforce.platform.models import (
    AssistanceCategory,
    Household,
    MaterialAssistance,
    Order,
    ServiceItem,
    Town,
    User,
    Visit,
    VisitStatus,
)
from socialforce.platform.services import ServiceError, dashboard
from socialforce.platform.services.exports import Sheet


@dataclass(frozen=True)
class Report:
    filename: str
    sheets: list[Sheet]


def _month(text: str) -> date:
    month = parse_month(text)
    if month is None:
        raise ServiceError(_("Enter the month as YYYY-MM."), status=400, field="month")
    return month


def _town(user: User, town: str | None) -> Town | None:
    """The report's town: town staff only their own; city staff any town or (empty) the whole city."""
    town = (town or "").strip()
    if user.town_id is not None:
        if town and town != str(user.town_id):
            raise ServiceError(_("You can only report on your own town."), status=403, field="town")
        return db.session.get(Town, user.town_id)
    if not town:
        return None
    town_id = parse_int(town)
    found = db.session.get(Town, town_id) if town_id else None
    if found is None:
        raise ServiceError(_("Unknown town."), status=400, field="town")
    return found


def _sheet(name: str, table: dashboard.Table) -> Sheet:
    return name, table.header, table.rows


def visits_sheet(user: User, f: dashboard.Filters) -> Sheet:
    """Visits starting in the month by service category and status."""
    rows = db.session.execute(
        sa.select(ServiceItem.category_id, Visit.status, sa.func.count()).select_from(Visit)
        .join(Order, Visit.order_id == Order.id).join(ServiceItem, Order.item_id == ServiceItem.id)
        .join(Household).where(Visit.starts_at >= f.start_utc, Visit.starts_at < f.end_utc,
                               *dashboard.item_scope(user, f))
        .group_by(ServiceItem.category_id, Visit.status)
    ).all()
    grid: dict[int, dict[str, int]] = {}
    for category_id, status, count in rows:
        grid.setdefault(category_id, {})[str(status)] = count
    statuses = [s.value for s in VisitStatus]
    body = [[name, *[grid[cid].get(s, 0) for s in statuses], sum(grid[cid].values())]
            for cid, name in dashboard.category_names().items() if cid in grid]
    return _("Visits"), [_("Service category"), *[str(VISIT_STATUS[s]) for s in statuses], _("Total")], body


def material_sheet(user: User, f: dashboard.Filters) -> Sheet:
    """Material assistance paid in the month by assistance category: households, payments, amount."""
    paid = (sa.select(MaterialAssistance).join(Household)
            .where(MaterialAssistance.month >= f.start, MaterialAssistance.month <= f.end, *dashboard.scope(user, f)))
    rows = db.session.execute(
        paid.with_only_columns(AssistanceCategory.name_zh, AssistanceCategory.name_en,
                               sa.func.count(sa.distinct(MaterialAssistance.household_id)), sa.func.count(),
                               sa.func.sum(MaterialAssistance.amount_cents), sa.func.count(MaterialAssistance.in_kind))
        .join(AssistanceCategory, AssistanceCategory.id == MaterialAssistance.category_id)
        .group_by(AssistanceCategory.id, AssistanceCategory.name_zh, AssistanceCategory.name_en)
        .order_by(AssistanceCategory.id)
    ).all()
    households = db.session.scalar(paid.with_only_columns(sa.func.count(sa.distinct(MaterialAssistance.household_id))))
    zh = select_locale() == "zh_CN"
    body = [[name_zh if zh else name_en, count, payments, round((cents or 0) / 100, 2), in_kind]
            for name_zh, name_en, count, payments, cents, in_kind in rows]
    body.append([_("Total"), households, sum(r[2] for r in body), round(sum(r[3] for r in body), 2),
                 sum(r[4] for r in body)])
    return _("Material assistance"), [_("Assistance category"), _("Households"), _("Payments"),
                                      _("Amount (yuan)"), _("With in-kind help")], body


def summary_sheet(tables: dict[str, dashboard.Table], town: Town | None, f: dashboard.Filters) -> Sheet:
    """The headline figures of the month, one per row."""
    households = {row[0]: row[1] for row in tables["households"].rows}
    status_totals = [sum(row[i + 1] for row in tables["items_by_category"].rows)
                     for i in range(len(dashboard.STATUSES))]
    providers = tables["providers"].rows
    dispatched, responded, accepted = (sum(r[i] for r in providers) for i in (1, 2, 3))
    quota = tables["quota"].rows
    scores = tables["satisfaction"].rows
    rated = sum(r[1] for r in scores)
    rows: list[list] = [
        [_("Town"), (town.name_zh if select_locale() == "zh_CN" else town.name_en) if town else _("All towns")],
        [_("Month"), f.start.strftime("%Y-%m")],
        *[[label, count] for label, count in households.items()],
        *[[_("Service items: %(status)s", status=ITEM_STATUS[s.value]), n]
          for s, n in zip(dashboard.STATUSES, status_totals, strict=True)],
        [_("Median hours from registration to dispatch"), tables["times"].rows[0][1]],
        [_("Median hours from registration to first visit"), tables["times"].rows[1][1]],
        [_("Orders dispatched"), dispatched],
        [_("Acceptance rate (%)"), dashboard.rate(accepted, responded)],
        [_("Overdue visits"), sum(r[1] for r in tables["overdue"].rows)],
        [_("Volunteer hours"), round(sum(r[2] for r in tables["volunteer_hours"].rows), 1)],
        [_("Pairing quota compliance (%)"), dashboard.rate(sum(r[3] for r in quota), sum(r[2] for r in quota))],
        [_("Average household satisfaction (follow-ups)"), round(sum(r[0] * r[1] for r in scores) / rated, 2) if rated else None],
    ]
    return _("Summary"), [_("Figure"), _("Value")], rows


def monthly(user: User, town: str | None, month: str, now: datetime) -> Report:
    """The monthly report of a town (or, for city staff without a town, the whole city) as xlsx sheets."""
    first, last = dashboard.month_bounds(_month(month))
    place = _town(user, town)
    f = dashboard.Filters(first, last, place.id if place else None)
    tables = {key: dashboard.table(user, f, key, now) for key in
              ("households", "items_by_category", "times", "providers", "satisfaction", "overdue",
               "volunteer_hours", "quota")}
    sheets = [
        summary_sheet(tables, place, f),
        _sheet(_("Items by category"), tables["items_by_category"]),
        _sheet(_("Orders by provider"), tables["providers"]),
        visits_sheet(user, f),
        _sheet(_("Household satisfaction"), tables["satisfaction"]),
        material_sheet(user, f),
    ]
    where = place.code if place else "city"
    return Report(f"monthly_report_{where}_{first.strftime('%Y-%m')}.xlsx", sheets)
