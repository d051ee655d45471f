"""Object-level scoping: which households, items and orders a user may see. One place for every rule."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort

from socialforce.platform.extensions import db
from socialforce.platform.models import Household, Order, Role, ServiceItem, User, Visit, Volunteer


def household_filter(user: User) -> sa.ColumnElement[bool]:
    """The WHERE clause limiting households to the user's scope (city staff: all; town staff: their town;
    a village assistant: their village)."""
    if user.role == Role.city_staff:
        return sa.true()
    if user.role == Role.town_staff:
        return Household.town_id == user.town_id
    if user.role == Role.village_assistant:
        return Household.village_id == (user.village_id or -1)
    return sa.false()


def order_scope(query: sa.Select, user: User) -> sa.Select:
    """An orders query limited to the user's households (city staff need no join)."""
    if user.role == Role.city_staff:
        return query
    return (query.join(ServiceItem, ServiceItem.id == Order.item_id).join(Household, Household.id == ServiceItem.household_id)
            .where(household_filter(user)))


def get_household_or_404(household_id: int, user: User) -> Household:
    """A household inside the user's scope, else 404 (never reveal that it exists elsewhere)."""
    household = db.session.scalar(
        sa.select(Household).where(Household.id == household_id, household_filter(user))
    )
    if household is None:
        abort(404)
    return household


def get_item_or_404(item_id: int, user: User) -> ServiceItem:
    """A service item whose household is inside the user's scope, else 404."""
    item = db.session.scalar(
        sa.select(ServiceItem).join(Household).where(ServiceItem.id == item_id, household_filter(user))
    )
    if item is None:
        abort(404)
    return item


def get_order_or_404(order_id: int, user: User) -> Order:
    """An order whose household is inside the user's (staff) scope, else 404."""
    order = db.session.scalar(order_scope(sa.select(Order), user).where(Order.id == order_id))
    if order is None:
        abort(404)
    return order


def provider_orders(user: User) -> sa.Select:
    """The orders of the user's own provider (agency or pairing unit); workers see those assigned to them."""
    query = sa.select(Order).where(Order.provider_id == user.provider_id)
    if user.role in (Role.social_worker, Role.cadre):
        query = query.where(Order.assignee_id == user.member_id)
    return query


def get_provider_order_or_404(order_id: int, user: User) -> Order:
    """One of the user's provider's orders, else 404."""
    order = db.session.scalar(provider_orders(user).where(Order.id == order_id))
    if order is None:
        abort(404)
    return order


def visit_filter(user: User) -> sa.ColumnElement[bool]:
    """The WHERE clause (over Visit joined to Order, ServiceItem, Household) limiting visits to the user's scope."""
    if user.role in (Role.city_staff, Role.town_staff, Role.village_assistant):
        return household_filter(user)
    if user.role in (Role.social_worker, Role.cadre):
        return Visit.assignee_id == (user.member_id or -1)
    if user.role == Role.volunteer:
        return Visit.volunteer_id == sa.select(Volunteer.id).where(
            Volunteer.provider_id == user.provider_id).scalar_subquery()
    return Order.provider_id == user.provider_id
