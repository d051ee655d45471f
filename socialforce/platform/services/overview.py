"""Read models for each portal's landing page: counts and latest records in the user's scope."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from socialforce.platform.extensions import db
from socialforce.platform.models import (
    Contract,
    Household,
    ItemStatus,
    Order,
    OrderState,
    Pairing,
    Provider,
    ProviderStatus,
    ServiceItem,
    ServiceRecord,
    TaskSignup,
    User,
    Volunteer,
    VolunteerTask,
)
from socialforce.platform.row_loads import ITEM_ROW, ORDER_ROW
from socialforce.platform.scoping import (
    household_filter,
    item_filter,
    order_filter,
    provider_filter,
    provider_orders,
    reads_households,
    scoped_sort_key,
)
from socialforce.platform.services import volunteers

LATEST = 10
"""Rows in a landing page's "latest" lists."""


@dataclass(frozen=True)
class StaffOverview:
    households: int
    open_items: int
    awaiting_response: int
    pending_providers: int
    latest_items: list[ServiceItem]


def staff_overview(user: User) -> StaffOverview:
    """Counts and the latest service items in a staff user's scope."""
    households = db.session.scalar(sa.select(sa.func.count(Household.id)).where(household_filter(user)))
    items_scope = item_filter(user)
    open_items = db.session.scalar(_scoped_items(items_scope, sa.func.count(ServiceItem.id))
                                   .where(ServiceItem.status == ItemStatus.open))
    awaiting = db.session.scalar(
        sa.select(sa.func.count(Order.id)).join(ServiceItem).join(Household)
        .where(order_filter(user), Order.state == OrderState.dispatched)
    )
    pending = db.session.scalar(sa.select(sa.func.count(Provider.id)).where(
        Provider.status == ProviderStatus.pending, provider_filter(user)))
    newest = scoped_sort_key(items_scope, ServiceItem.id)
    latest = list(db.session.scalars(
        _scoped_items(items_scope, ServiceItem).order_by(newest.desc()).limit(LATEST).options(*ITEM_ROW)))
    return StaffOverview(households, open_items, awaiting, pending, latest)


def _scoped_items(scope: sa.ColumnElement[bool], *columns) -> sa.Select:
    """Service items in `scope` (`item_filter`), joined to their households only when the scope needs them."""
    query = sa.select(*columns).select_from(ServiceItem)
    return (query.join(Household, Household.id == ServiceItem.household_id) if reads_households(scope)
            else query).where(scope)


@dataclass(frozen=True)
class ProviderOverview:
    provider: Provider
    orders_by_state: dict[str, int]
    latest_orders: list[Order]
    contracts: list[Contract]
    paired_households: int


def provider_overview(user: User) -> ProviderOverview:
    """An agency's or pairing unit's orders by state, latest orders, contracts and pairings."""
    provider = db.session.get(Provider, user.provider_id)
    orders = provider_orders(user).subquery()
    by_state = dict(db.session.execute(
        sa.select(orders.c.state, sa.func.count()).group_by(orders.c.state)
    ).all())
    latest = list(db.session.scalars(provider_orders(user).order_by(Order.id.desc()).limit(LATEST).options(*ORDER_ROW)))
    contracts = list(db.session.scalars(
        sa.select(Contract).where(Contract.agency_id == (provider.agency.id if provider.agency else -1))
        .order_by(Contract.starts_on.desc())
    ))
    paired = db.session.scalar(
        sa.select(sa.func.count(Pairing.id)).where(Pairing.provider_id == provider.id, Pairing.ended_on.is_(None))
    )
    return ProviderOverview(provider, {str(k): v for k, v in by_state.items()}, latest, contracts, paired)


@dataclass(frozen=True)
class VolunteerOverview:
    volunteer: Volunteer
    confirmed_minutes: int
    pending_records: int
    open_tasks_in_town: int
    my_signups: int


def volunteer_overview(user: User) -> VolunteerOverview:
    """A volunteer's profile, confirmed hours, and the open tasks in their town."""
    volunteer = volunteers.volunteer_of(user)
    confirmed, pending = db.session.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(ServiceRecord.minutes).filter(ServiceRecord.confirmed_at.is_not(None)), 0),
            sa.func.count(ServiceRecord.id).filter(ServiceRecord.confirmed_at.is_(None)),
        ).where(ServiceRecord.volunteer_id == volunteer.id)
    ).one()
    open_tasks = db.session.scalar(
        sa.select(sa.func.count(VolunteerTask.id)).join(Order).join(ServiceItem).join(Household)
        .where(Household.town_id == volunteer.provider.town_id, VolunteerTask.taken < VolunteerTask.slots,
               Order.state == OrderState.dispatched)
    )
    signups = db.session.scalar(
        sa.select(sa.func.count(TaskSignup.id)).where(TaskSignup.volunteer_id == volunteer.id)
    )
    return VolunteerOverview(volunteer, confirmed, pending, open_tasks, signups)
