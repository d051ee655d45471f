"""What changed since a time, for partner systems that synchronise: households, service items, orders, visits,
outcomes and household feedback of the partner's towns, in (updated_at, kind, id) order, paged by an opaque cursor.

Every synchronised table has `updated_at` (set on insert and on every update, ORM or Core) indexed with `id`. A
row's `updated_at` is taken when it is written, but others see it only when its transaction commits, possibly a
little later; a reader that had already passed that time would skip it for good. So rows changed within the last
CHANGES_SETTLE_SECONDS are left for the next call (`until` says where this answer stops): a transaction that
commits within the window is never skipped. Each kind is read with its own (updated_at, id) index, at most
`limit + 1` rows each, and the kinds are merged in Python."""
from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from socialforce.platform.extensions import db
from socialforce.platform.models import (
    ApiClient,
    Household,
    HouseholdFeedback,
    Order,
    Outcome,
    ServiceItem,
    Visit,
    utcnow,
)
from socialforce.platform.services import ServiceError

KINDS = ("household", "item", "order", "visit", "outcome", "feedback")  # the tie-break order at one time
MODELS = {"household": Household, "item": ServiceItem, "order": Order, "visit": Visit, "outcome": Outcome,
          "feedback": HouseholdFeedback}
SCOPE_OF = {"household": "households:read", "item": "items:read", "order": "orders:read", "visit": "visits:read",
            "outcome": "visits:read", "feedback": "feedback:read"}
MAX_LIMIT = 500


@dataclass(frozen=True)
class Position:
    """A place in the feed: just after the row (updated_at, kind, id)."""

    at: datetime
    kind: int
    id: int

    def encode(self) -> str:
        """The opaque cursor a client sends back."""
        raw = f"{self.at.isoformat(timespec='microseconds')}|{self.kind}|{self.id}"
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(cursor: str) -> Position:
    """The position a cursor names; a 422 ServiceError for anything not made by `Position.encode`."""
    try:
        at, kind, row_id = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().split("|")
        position = Position(datetime.fromisoformat(at), int(kind), int(row_id))
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise ServiceError(_("This cursor is not one the changes feed gave."), 422, field="cursor") from None
    if position.at.tzinfo is not None or not -1 <= position.kind < len(KINDS) or position.id < 0:
        raise ServiceError(_("This cursor is not one the changes feed gave."), 422, field="cursor")
    return position


@dataclass(frozen=True)
class Change:
    """One changed row: its kind, the row and where it stands in the feed."""

    kind: str
    row: object
    position: Position


@dataclass(frozen=True)
class Page:
    """A page of changes, the position to continue from, whether more are waiting, and the settled bound."""

    changes: list[Change]
    next: Position
    has_more: bool
    until: datetime


def _town_filter(kind: str, town_ids: list[int]) -> tuple[sa.Select, sa.ColumnElement[bool]]:
    """The kind's rows joined to their household, limited to the towns."""
    model = MODELS[kind]
    query = sa.select(model)
    if kind == "item":
        query = query.join(Household, Household.id == ServiceItem.household_id)
    elif kind in ("order", "visit", "outcome", "feedback"):
        if kind != "order":
            query = query.join(Order, Order.id == model.order_id)
        query = query.join(ServiceItem, ServiceItem.id == Order.item_id).join(
            Household, Household.id == ServiceItem.household_id)
    return query, Household.town_id.in_(town_ids)


def _after(kind_index: int, model, start: Position) -> sa.ColumnElement[bool]:
    """Rows of this kind strictly after the position in (updated_at, kind, id) order."""
    if kind_index > start.kind:
        return model.updated_at >= start.at
    if kind_index < start.kind:
        return model.updated_at > start.at
    return sa.or_(model.updated_at > start.at, sa.and_(model.updated_at == start.at, model.id > start.id))


def since(client: ApiClient, start: Position, limit: int = 100, now: datetime | None = None) -> Page:
    """The client's changes after `start` (see the module's docstring), at most `limit` of them."""
    now = now or utcnow()
    until = now - timedelta(seconds=current_app.config["CHANGES_SETTLE_SECONDS"])
    limit = max(1, min(limit, MAX_LIMIT))
    found: list[Change] = []
    for index, kind in enumerate(KINDS):
        if SCOPE_OF[kind] not in client.scope_list:
            continue
        model = MODELS[kind]
        query, in_towns = _town_filter(kind, client.town_ids or [])
        rows = db.session.scalars(query.where(in_towns, model.updated_at <= until, _after(index, model, start))
                                  .order_by(model.updated_at, model.id).limit(limit + 1))
        found.extend(Change(kind, row, Position(row.updated_at, index, row.id)) for row in rows)
    found.sort(key=lambda c: (c.position.at, c.position.kind, c.position.id))
    page = found[:limit]
    return Page(page, page[-1].position if page else start, len(found) > limit, until)


def start_at(at: datetime) -> Position:
    """The position just before everything changed at or after `at` (naive UTC)."""
    return Position(at, -1, 0)
