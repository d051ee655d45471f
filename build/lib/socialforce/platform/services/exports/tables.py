"""Staff lists as export tables: households, service items and orders in the user's scope (IDs masked)."""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa
from flask_babel import gettext as _

from socialforce.platform.extensions import db
from socialforce.platform.i18n import local_time
from socialforce.platform.labels import FREQUENCY, ITEM_STATUS, ORDER_STATE, PRIORITY
from socialforce.platform.models import (
    AssistanceCategory,
    Enrollment,
    Household,
    ItemStatus,
    Member,
    Order,
    OrderState,
    Provider,
    ServiceCategory,
    ServiceItem,
    Town,
    User,
    Village,
)
from socialforce.platform.scoping import household_filter
from socialforce.platform.services.order_search import apply_order_filters, parse_order_filters


def households_table(query: sa.Select) -> tuple[list[str], Iterator[list]]:
    """The households of a households.search() query: one row each, phones masked, no ID numbers."""
    ids = query.with_only_columns(Household.id).order_by(None).subquery()
    sizes = dict(
        db.session.execute(
            sa.select(Member.household_id, sa.func.count())
            .where(Member.household_id.in_(sa.select(ids.c.id)))
            .group_by(Member.household_id)
        ).all()
    )
    categories: dict[int, set[str]] = {}
    for household_id, name in db.session.execute(
        sa.select(Member.household_id, AssistanceCategory.name_zh)
        .join(Enrollment, Enrollment.member_id == Member.id)
        .join(AssistanceCategory)
        .where(Member.household_id.in_(sa.select(ids.c.id)))
    ):
        categories.setdefault(household_id, set()).add(name)
    header = [
        _("Household number"),
        _("Town"),
        _("Village"),
        _("Head of household"),
        _("Address"),
        _("Phone (masked)"),
        _("Members"),
        _("Assistance categories"),
        _("Created"),
    ]
    rows_query = (
        sa.select(
            Household.id,
            Household.code,
            Town.name_zh,
            Village.name,
            Household.head_name,
            Household.address,
            Household.phone_masked,
            Household.created_at,
        )
        .join(Town, Town.id == Household.town_id)
        .join(Village, Village.id == Household.village_id)
        .where(Household.id.in_(sa.select(ids.c.id)))
        .order_by(Household.id)
    )

    def rows() -> Iterator[list]:
        for hid, code, town, village, head, address, phone, created in db.session.execute(
            rows_query.execution_options(yield_per=2000)
        ):
            yield [
                code,
                town,
                village,
                head,
                address,
                phone or "",
                sizes.get(hid, 0),
                "、".join(sorted(categories.get(hid, ()))),
                local_time(created),
            ]

    return header, rows()


def _items_query(user: User, status: str | None, town_id: int | None, category_id: int | None) -> sa.Select:
    query = (
        sa.select(
            ServiceItem.id,
            Household.code,
            Town.name_zh,
            Member.name,
            Member.id_masked,
            ServiceCategory.name_zh,
            ServiceItem.description,
            ServiceItem.priority,
            ServiceItem.frequency,
            ServiceItem.status,
            ServiceItem.created_at,
        )
        .join(Household, Household.id == ServiceItem.household_id)
        .join(Town, Town.id == Household.town_id)
        .join(ServiceCategory, ServiceCategory.id == ServiceItem.category_id)
        .outerjoin(Member, Member.id == ServiceItem.member_id)
        .where(household_filter(user))
        .order_by(ServiceItem.id)
    )
    if status in ItemStatus.__members__:
        query = query.where(ServiceItem.status == ItemStatus(status))
    if town_id:
        query = query.where(Household.town_id == town_id)
    if category_id:
        query = query.where(ServiceItem.category_id == category_id)
    return query


def items_count(
    user: User, status: str | None = None, town_id: int | None = None, category_id: int | None = None
) -> int:
    """How many rows items_table would have."""
    return _count(_items_query(user, status, town_id, category_id))


def _count(query: sa.Select) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery())) or 0


def items_table(
    user: User, status: str | None = None, town_id: int | None = None, category_id: int | None = None
) -> tuple[list[str], Iterator[list]]:
    """Service items in the user's scope (optionally by status, town, category); member IDs masked."""
    query = _items_query(user, status, town_id, category_id)
    header = [
        _("Item number"),
        _("Household number"),
        _("Town"),
        _("Member"),
        _("ID number (masked)"),
        _("Service category"),
        _("Description"),
        _("Priority"),
        _("Frequency"),
        _("Status"),
        _("Created"),
    ]

    def rows() -> Iterator[list]:
        for (
            item_id,
            code,
            town,
            member,
            masked,
            category,
            description,
            priority,
            frequency,
            state,
            created,
        ) in db.session.execute(query.execution_options(yield_per=2000)):
            yield [
                item_id,
                code,
                town,
                member or "",
                masked or "",
                category,
                description,
                str(PRIORITY.get(str(priority), priority)),
                str(FREQUENCY.get(str(frequency), frequency)),
                str(ITEM_STATUS.get(str(state), state)),
                local_time(created),
            ]

    return header, rows()


def _orders_query(user: User, state: str | None, town_id: int | None, found: dict | None = None) -> sa.Select:
    query = (
        sa.select(
            Order.id,
            ServiceItem.id,
            Household.code,
            Town.name_zh,
            ServiceCategory.name_zh,
            Provider.name,
            Order.state,
            Order.attempt,
            Order.created_at,
            Order.dispatched_at,
            Order.responded_at,
            Order.completed_at,
        )
        .join(ServiceItem, ServiceItem.id == Order.item_id)
        .join(Household, Household.id == ServiceItem.household_id)
        .join(Town, Town.id == Household.town_id)
        .join(ServiceCategory, ServiceCategory.id == ServiceItem.category_id)
        .outerjoin(Provider, Provider.id == Order.provider_id)
        .where(household_filter(user))
        .order_by(Order.id)
    )
    if state in OrderState.__members__:
        query = query.where(Order.state == OrderState(state))
    if town_id:
        query = query.where(Household.town_id == town_id)
    if found:  # the orders board's other filters (category, provider, dates, number), as its query arguments
        query = apply_order_filters(query, parse_order_filters(user, found), with_state=False)
    return query


def orders_count(user: User, state: str | None = None, town_id: int | None = None, found: dict | None = None) -> int:
    """How many rows orders_table would have."""
    return _count(_orders_query(user, state, town_id, found))


def households_count(query: sa.Select) -> int:
    """How many rows households_table would have for a households.search() query."""
    return _count(query.with_only_columns(Household.id))


def orders_table(
    user: User, state: str | None = None, town_id: int | None = None, found: dict | None = None
) -> tuple[list[str], Iterator[list]]:
    """Orders in the user's scope (optionally by state, town and the orders board's other filters)."""
    query = _orders_query(user, state, town_id, found)
    header = [
        _("Order number"),
        _("Item number"),
        _("Household number"),
        _("Town"),
        _("Service category"),
        _("Provider"),
        _("State"),
        _("Attempt"),
        _("Created"),
        _("Dispatched at"),
        _("Responded at"),
        _("Completed at"),
    ]

    def rows() -> Iterator[list]:
        for (
            order_id,
            item_id,
            code,
            town,
            category,
            provider,
            order_state,
            attempt,
            created,
            dispatched,
            responded,
            completed,
        ) in db.session.execute(query.execution_options(yield_per=2000)):
            yield [
                order_id,
                item_id,
                code,
                town,
                category,
                provider or _("Volunteers"),
                str(ORDER_STATE.get(str(order_state), order_state)),
                attempt,
                local_time(created),
                local_time(dispatched),
                local_time(responded),
                local_time(completed),
            ]

    return header, rows()
