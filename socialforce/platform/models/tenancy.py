"""The county of a new provider, login, service item or order, filled from what it already names (one rule, at
insert).

A provider's home county is its town's; an item's is its household's (a household stays in its county), an order's
its item's.
A login's county is its town's, its village's town's or its provider's; county staff created without any of these
(`create-admin`, tests) get the only county when there is exactly one, so a one-county installation behaves as
before. Prefecture staff have none. The CHECK constraint
`county_unless_prefecture` refuses any other login without a county.
"""
from __future__ import annotations

import sqlalchemy as sa

from socialforce.platform.models.geo import County, Town, Village
from socialforce.platform.models.households import Household
from socialforce.platform.models.items import ServiceItem
from socialforce.platform.models.orders import Order
from socialforce.platform.models.providers import Provider
from socialforce.platform.models.users import Role, User


@sa.event.listens_for(Provider, "before_insert")
def _provider_county(_mapper, connection, provider: Provider) -> None:
    if provider.county_id is None and provider.town_id is not None:
        provider.county_id = connection.scalar(sa.select(Town.county_id).where(Town.id == provider.town_id))


@sa.event.listens_for(User, "before_insert")
def _user_county(_mapper, connection, user: User) -> None:
    if user.county_id is not None or user.role == Role.prefecture_staff:
        return
    if user.town_id is not None:
        user.county_id = connection.scalar(sa.select(Town.county_id).where(Town.id == user.town_id))
    elif user.village_id is not None:
        user.county_id = connection.scalar(sa.select(Town.county_id).join(Village, Village.town_id == Town.id)
                                           .where(Village.id == user.village_id))
    elif user.provider_id is not None:
        user.county_id = connection.scalar(sa.select(Provider.county_id).where(Provider.id == user.provider_id))
    else:
        only = connection.execute(sa.select(County.id).limit(2)).scalars().all()
        if len(only) == 1:
            user.county_id = only[0]


@sa.event.listens_for(ServiceItem, "before_insert")
def _item_county(_mapper, connection, item: ServiceItem) -> None:
    if item.county_id is None:
        item.county_id = connection.scalar(sa.select(Town.county_id).join(Household, Household.town_id == Town.id)
                                           .where(Household.id == item.household_id))


@sa.event.listens_for(Order, "before_insert")
def _order_county(_mapper, connection, order: Order) -> None:
    if order.county_id is None:
        order.county_id = connection.scalar(sa.select(ServiceItem.county_id).where(ServiceItem.id == order.item_id))
