"""The records behind each figure: the rows one dashboard figure counts, as a paginated list."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_sqlalchemy.pagination import Pagination

from socialforce.platform.extensions import db
from socialforce.platform.inputs import parse_int
from socialforce.platform.models import (
    Agency,
    Contract,
    Household,
    HouseholdFeedback,
    ItemStatus,
    Order,
    Pairing,
    Provider,
    ServiceCategory,
    ServiceItem,
    ServiceRecord,
    User,
    Visit,
    Volunteer,
)
from socialforce.platform.services import ServiceError
from socialforce.platform.services.dashboard.filters import Filters
from socialforce.platform.services.dashboard.record_sets import (
    HOUSEHOLD_GROUPS,
    ORDER_MEASURES,
    VOLUNTEERS_KEY,
    contract_query,
    first_dispatch,
    first_visit,
    flagged_clause,
    household_group_filter,
    items_in_period,
    order_measure_clause,
    overdue_clause,
    pairing_query,
    provider_clause,
    volunteer_record_clause,
)
from socialforce.platform.services.dashboard.sql import hours_between, in_period, item_scope, no_jit, scope


@dataclass(frozen=True)
class Column:
    """A column of a records list: the query label, its header and how to show it.

    kind: text, household (link by household_id), name (masked), category, town, item_status, order_state,
    visit_status, visit_flags, feedback_channel, datetime (local time), date, hours, number.
    """

    key: str
    label: str
    kind: str = "text"


@dataclass
class Records:
    """The rows a figure counts: a query of labelled columns (ordered) and how to show them."""

    title: str
    query: sa.Select
    columns: list[Column]


def _int_param(params: Mapping[str, str], name: str, required: bool = True) -> int | None:
    value = params.get(name)
    if value in (None, ""):
        if required:
            raise ServiceError(_("A list parameter is missing."), status=400)
        return None
    number = parse_int(value)
    if number is None or number < 0:
        raise ServiceError(_("A list parameter is not valid."), status=400)
    return number


def _choice_param(params: Mapping[str, str], name: str, choices) -> str:
    value = params.get(name)
    if value not in choices:
        raise ServiceError(_("A list parameter is not valid."), status=400)
    return value


def _household_columns() -> tuple[list, list[Column]]:
    return ([Household.id.label("household_id"), Household.code.label("code"),
             Household.head_name.label("head"), Household.town_id.label("town")],
            [Column("code", _("Household number"), "household"), Column("head", _("Head of household"), "name"),
             Column("town", _("Town"), "town")])


def _item_town(params: Mapping[str, str]) -> list[sa.ColumnElement[bool]]:
    town = _int_param(params, "item_town", required=False)
    return [Household.town_id == town] if town else []


def records(figure: str, user: User, f: Filters, params: Mapping[str, str], now: datetime) -> Records:
    """The records counted by one figure (see the module docstring); ServiceError 404/400 on bad input."""
    makers = {"households": _household_records, "items": _item_records, "times": _time_records,
              "orders": _order_records, "feedback": _feedback_records, "overdue": _overdue_records,
              "flagged": _flagged_records,
              "records": _service_records, "pairings": _pairing_records, "contracts": _contract_records}
    if figure not in makers:
        raise ServiceError(_("Unknown list."), status=404)
    return makers[figure](user, f, params, now)


def _household_records(user, f, params, now) -> Records:
    group = _choice_param(params, "group", HOUSEHOLD_GROUPS)
    cols, columns = _household_columns()
    query = (sa.select(*cols).where(household_group_filter(group, f), *scope(user, f)).order_by(Household.id))
    titles = {"material_only": _("Households with material assistance only"),
              "material_service": _("Households with material assistance and service"),
              "service_only": _("Households with service only")}
    return Records(titles[group], query, columns)


def _item_columns() -> tuple[list, list[Column]]:
    cols, columns = _household_columns()
    return ([*cols, ServiceItem.id.label("item"), ServiceItem.category_id.label("category"),
             ServiceItem.status.label("status"), ServiceItem.created_at.label("created")],
            [*columns, Column("category", _("Service category"), "category"),
             Column("status", _("Status"), "item_status"), Column("created", _("Registered"), "datetime")])


def _item_records(user, f, params, now) -> Records:
    clauses = [items_in_period(f), *item_scope(user, f), *_item_town(params)]
    if params.get("status"):
        clauses.append(ServiceItem.status == _choice_param(params, "status", [s.value for s in ItemStatus]))
    if params.get("category"):
        clauses.append(ServiceItem.category_id.in_(
            sa.select(ServiceCategory.id).where(ServiceCategory.code == params["category"])))
    cols, columns = _item_columns()
    query = sa.select(*cols).select_from(ServiceItem).join(Household).where(*clauses).order_by(ServiceItem.id)
    return Records(_("Service items"), query, columns)


def _time_records(user, f, params, now) -> Records:
    measure = _choice_param(params, "measure", ("dispatch", "visit"))
    first = first_dispatch(user, f) if measure == "dispatch" else first_visit(user, f)
    cols, columns = _item_columns()
    query = (sa.select(*cols, first.c.first.label("first"),
                       hours_between(first.c.first, ServiceItem.created_at).label("hours"))
             .select_from(first).join(ServiceItem, ServiceItem.id == first.c.item_id).join(Household)
             .order_by(ServiceItem.id))
    label = _("First dispatch") if measure == "dispatch" else _("First visit")
    title = _("Items first dispatched in the period") if measure == "dispatch" else \
        _("Items first visited in the period")
    return Records(title, query, [*columns, Column("first", label, "datetime"), Column("hours", _("Hours"), "hours")])


def _order_records(user, f, params, now) -> Records:
    provider = params.get("provider") or ""
    if provider != VOLUNTEERS_KEY and not provider.isdigit():
        raise ServiceError(_("A list parameter is not valid."), status=400)
    measure = _choice_param(params, "measure", ORDER_MEASURES)
    cols, columns = _household_columns()
    query = (sa.select(*cols, Order.id.label("order"), ServiceItem.category_id.label("category"),
                       Order.state.label("state"), Order.dispatched_at.label("dispatched"))
             .select_from(Order).join(ServiceItem, Order.item_id == ServiceItem.id).join(Household)
             .outerjoin(Provider, Provider.id == Order.provider_id)
             .where(in_period(Order.dispatched_at, f), *item_scope(user, f), provider_clause(provider),
                    order_measure_clause(measure))
             .order_by(Order.id))
    return Records(_("Orders"), query, [
        Column("order", _("Order"), "number"), *columns, Column("category", _("Service category"), "category"),
        Column("state", _("State"), "order_state"), Column("dispatched", _("Dispatched at"), "datetime")])


def _feedback_records(user, f, params, now) -> Records:
    score = _int_param(params, "score")
    cols, columns = _household_columns()
    query = (sa.select(*cols, HouseholdFeedback.order_id.label("order"), ServiceItem.category_id.label("category"),
                       HouseholdFeedback.channel.label("channel"), HouseholdFeedback.satisfaction.label("score"),
                       HouseholdFeedback.recorded_at.label("recorded"))
             .select_from(HouseholdFeedback).join(Order, HouseholdFeedback.order_id == Order.id)
             .join(ServiceItem, Order.item_id == ServiceItem.id).join(Household)
             .where(in_period(HouseholdFeedback.recorded_at, f), *item_scope(user, f),
                    HouseholdFeedback.satisfaction == score)
             .order_by(HouseholdFeedback.id))
    return Records(_("Follow-ups"), query, [
        Column("order", _("Order"), "number"), *columns, Column("category", _("Service category"), "category"),
        Column("channel", _("Asked by"), "feedback_channel"), Column("score", _("Household satisfaction"), "number"),
        Column("recorded", _("Recorded at"), "datetime")])


def _visit_records(title: str, where: sa.ColumnElement[bool], extra: list, shown: list[Column], user: User,
                   f: Filters, params: Mapping[str, str]) -> Records:
    """Visits matching `where` in scope (and the item_town parameter): visit, household, category, start, `extra`."""
    cols, columns = _household_columns()
    query = (sa.select(*cols, Visit.id.label("visit"), ServiceItem.category_id.label("category"),
                       Visit.starts_at.label("starts"), *extra)
             .select_from(Visit).join(Order, Visit.order_id == Order.id)
             .join(ServiceItem, Order.item_id == ServiceItem.id).join(Household)
             .where(where, *item_scope(user, f), *_item_town(params)).order_by(Visit.id))
    return Records(title, query, [
        Column("visit", _("Visit"), "number"), *columns, Column("category", _("Service category"), "category"),
        Column("starts", _("Starts at"), "datetime"), *shown])


def _overdue_records(user, f, params, now) -> Records:
    return _visit_records(_("Overdue visits"), overdue_clause(f, now), [Visit.status.label("status")],
                          [Column("status", _("Status"), "visit_status")], user, f, params)


def _flagged_records(user, f, params, now) -> Records:
    return _visit_records(_("Flagged visits"), flagged_clause(f),
                          [Visit.checkin_at.label("checkin"), Visit.flags.label("flags")],
                          [Column("checkin", _("Checked in at"), "datetime"),
                           Column("flags", _("Why flagged"), "visit_flags")], user, f, params)


def _service_records(user, f, params, now) -> Records:
    cols, columns = _household_columns()
    query = (sa.select(*cols, ServiceRecord.id.label("record"), Volunteer.real_name.label("volunteer"),
                       ServiceRecord.served_on.label("served"), ServiceRecord.minutes.label("minutes"))
             .select_from(ServiceRecord).join(Volunteer, Volunteer.id == ServiceRecord.volunteer_id)
             .join(Visit, ServiceRecord.visit_id == Visit.id).join(Order, Visit.order_id == Order.id)
             .join(ServiceItem, Order.item_id == ServiceItem.id).join(Household)
             .where(volunteer_record_clause(f), *item_scope(user, f), *_item_town(params))
             .order_by(ServiceRecord.id))
    return Records(_("Confirmed volunteer service records"), query, [
        Column("record", _("Record"), "number"), *columns, Column("volunteer", _("Volunteer"), "name"),
        Column("served", _("Served on"), "date"), Column("minutes", _("Minutes"), "number")])


def _pairing_records(user, f, params, now) -> Records:
    unit = _int_param(params, "unit")
    query, compliant, visits = pairing_query(user, f)
    cols, columns = _household_columns()
    query = (query.with_only_columns(*cols, Provider.name.label("unit"), Pairing.since.label("since"),
                                     Pairing.quota().label("quota"), visits.label("visits"))
             .where(Pairing.provider_id == unit).order_by(Pairing.id))
    if params.get("compliant") == "1":
        query = query.where(compliant)
    return Records(_("Active pairings"), query, [
        *columns, Column("unit", _("Pairing unit")), Column("since", _("Paired since"), "date"),
        Column("quota", _("Monthly quota"), "number"), Column("visits", _("Completed visits this month"), "number")])


def _contract_records(user, f, params, now) -> Records:
    agency = _int_param(params, "agency")
    query = (contract_query(user, f).with_only_columns(
        Contract.code.label("code"), Contract.title.label("title"), Provider.name.label("agency"),
        Contract.purchased_hours.label("purchased"), Contract.used_hours.label("used"),
        Contract.starts_on.label("starts"), Contract.ends_on.label("ends"))
        .where(Agency.id == agency).order_by(Contract.id))
    return Records(_("Government-purchase contracts"), query, [
        Column("code", _("Contract")), Column("title", _("Title")), Column("agency", _("Agency")),
        Column("purchased", _("Purchased hours"), "number"), Column("used", _("Used hours"), "number"),
        Column("starts", _("Starts on"), "date"), Column("ends", _("Ends on"), "date")])


def paginate(query: sa.Select, page: int, per_page: int) -> Pagination:
    """One page of a records query (its rows as mappings by column label) and the total row count."""
    no_jit()
    return db.paginate(query, page=page, per_page=per_page, error_out=False, rows=True)
