"""Finding orders at county scale: the filters of the staff orders board (and its export) from query arguments,
the whitelisted sort keys, and the scoped query they select."""
from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _

from socialforce.platform import caching, localtime
from socialforce.platform.extensions import db
from socialforce.platform.inputs import parse_date, parse_int
from socialforce.platform.models import (
    Household,
    Order,
    OrderState,
    Provider,
    ServiceCategory,
    ServiceItem,
    User,
)
from socialforce.platform.scoping import order_filter, reads_households

SORT_KEYS = {  # ?sort= value -> column; a leading "-" sorts descending; anything else is the default
    "number": Order.id,
    "created": Order.created_at,
    "due": Order.response_due_at,
    "state": Order.state,
    "town": Household.town_id,
    "category": ServiceItem.category_id,
    "provider": Provider.name,
}
DEFAULT_SORT = "-number"
FILTER_ARGS = ("state", "town", "category", "provider", "from", "to", "number")


@dataclass(frozen=True)
class OrderFilters:
    """What the board shows: state, town, service category, provider name, created between two local dates, an
    order number, and the sort key; `errors` maps a refused argument to its message (it is then ignored)."""

    state: OrderState | None = None
    town_id: int | None = None
    category_id: int | None = None
    provider: str | None = None
    start: date | None = None
    end: date | None = None
    number: int | None = None
    sort: str = DEFAULT_SORT
    errors: dict[str, str] = field(default_factory=dict)


def parse_order_filters(user: User, args: Mapping[str, str]) -> OrderFilters:
    """The board's filters from query arguments; bad values are named in `errors` and left out, never a 500."""
    errors: dict[str, str] = {}
    text = {name: (args.get(name) or "").strip() for name in (*FILTER_ARGS, "sort")}
    state = OrderState(text["state"]) if text["state"] in OrderState.__members__ else None
    town_id = parse_int(text["town"]) if user.town_id is None and text["town"] else None
    category_id = None
    if text["category"]:
        category_id = db.session.scalar(sa.select(ServiceCategory.id).where(ServiceCategory.code == text["category"]))
        if category_id is None:
            errors["category"] = _("Unknown service category.")
    start, end = parse_date(text["from"]), parse_date(text["to"])
    for name, value in (("from", start), ("to", end)):
        if text[name] and value is None:
            errors[name] = _("Enter dates as YYYY-MM-DD.")
    if start and end and end < start:
        errors["to"] = _("The end date is before the start date.")
        start = end = None
    number = parse_int(text["number"].lstrip("#")) if text["number"] else None
    if text["number"] and (number is None or number < 1):
        errors["number"] = _("An order number is a whole number, e.g. 1024.")
        number = None
    sort = text["sort"] if text["sort"].lstrip("-") in SORT_KEYS else DEFAULT_SORT
    return OrderFilters(state, town_id, category_id, text["provider"][:100] or None, start, end, number, sort, errors)


def apply_order_filters(query: sa.Select, f: OrderFilters, with_state: bool = True) -> sa.Select:
    """Narrow a query that joins Order, ServiceItem, Household and (outer) Provider by the filters."""
    if with_state and f.state is not None:
        query = query.where(Order.state == f.state)
    if f.town_id:
        query = query.where(Household.town_id == f.town_id)
    if f.category_id:
        query = query.where(ServiceItem.category_id == f.category_id)
    if f.provider:
        escaped = f.provider.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Provider.name.ilike(f"%{escaped}%", escape="\\"))
    if f.start:
        query = query.where(Order.created_at >= localtime.day_start(f.start))
    if f.end:
        query = query.where(Order.created_at < localtime.day_start(f.end + timedelta(days=1)))
    if f.number:
        query = query.where(Order.id == f.number)
    return query


def _joined(user: User, columns) -> sa.Select:
    return (sa.select(*columns).select_from(Order)
            .join(ServiceItem, ServiceItem.id == Order.item_id).join(Household, Household.id == ServiceItem.household_id)
            .outerjoin(Provider, Provider.id == Order.provider_id).where(order_filter(user)))


def board_query(user: User, f: OrderFilters) -> sa.Select:
    """The user's orders matching the filters, in the chosen order (ties by number, newest first)."""
    column = SORT_KEYS[f.sort.lstrip("-")]
    ordering = column.desc() if f.sort.startswith("-") else column.asc()
    return apply_order_filters(_joined(user, [Order]), f).order_by(ordering, Order.id.desc())


def _reads_orders_only(user: User, f: OrderFilters) -> bool:
    """Whether the user's scope and the filters are all conditions on the orders themselves (no join needed)."""
    return not (reads_households(order_filter(user)) or f.town_id or f.category_id or f.provider)


def state_counts(user: User, f: OrderFilters) -> dict[str, int]:
    """How many of the user's orders match the filters (all but the state), per state; from the orders alone when
    nothing else is asked (a county's counts by its (county_id, state) index: 57 -> 9 ms at three counties)."""
    columns = [Order.state, sa.func.count(Order.id)]
    scoped = (sa.select(*columns).where(order_filter(user)) if _reads_orders_only(user, f)
              else _joined(user, columns))
    query = apply_order_filters(scoped, f, with_state=False)
    return {str(state): n for state, n in db.session.execute(query.group_by(Order.state)).all()}


def cached_state_counts(user: User, f: OrderFilters, seconds: float) -> dict[str, int]:
    """`state_counts`, kept `seconds` in the shared cache per user and filters (at county scale the count joins every
    order of the county: 150 ms on PostgreSQL at scale 1.0, more than the page itself); 0: counted every time."""
    if seconds <= 0:
        return state_counts(user, f)
    scope = repr((f.town_id, f.category_id, f.provider, f.start, f.end, f.number))  # all the filters but the state
    key = f"order-counts:{user.id}:{hashlib.sha256(scope.encode()).hexdigest()[:32]}"
    counts = caching.get(key)
    if counts is None:
        counts = state_counts(user, f)
        caching.put(key, counts, seconds)
    return counts
