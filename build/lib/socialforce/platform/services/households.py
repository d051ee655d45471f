"""Household queries for staff, the one audited way to reveal a resident ID number, and the household timeline."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from flask_babel import gettext as _

from socialforce.platform import crypto, idnumber
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    AssistanceCategory,
    Enrollment,
    Household,
    HouseholdChange,
    HouseholdFeedback,
    MaterialAssistance,
    Member,
    Order,
    Outcome,
    ServiceItem,
    User,
    Visit,
)
from socialforce.platform.scoping import household_filter
from socialforce.platform.services import ServiceError, audit


def search(
    user: User,
    name: str | None = None,
    id_suffix: str | None = None,
    town_id: int | None = None,
    category_code: str | None = None,
) -> sa.Select:
    """Households in the user's scope matching household code (a prefix), head/member name (or a member's full ID),
    the last 4 characters of a member's ID (the stored suffix, never decrypted), town, category."""
    query = sa.select(Household).where(household_filter(user))
    if town_id:
        query = query.where(Household.town_id == town_id)
    member_match = []
    if name and idnumber.is_valid(name):
        member_match.append(Member.id_number_hash == crypto.id_number_hash(name))
    elif name:
        pattern = f"%{name.strip()}%"
        query = query.where(
            Household.head_name.like(pattern)
            | Household.code.like(f"{name.strip()}%")
            | Household.id.in_(sa.select(Member.household_id).where(Member.name.like(pattern)))
        )
    if id_suffix:
        member_match.append(Member.id_suffix == idnumber.canonical(id_suffix))
    if category_code:
        member_match.append(Member.id.in_(
            sa.select(Enrollment.member_id).join(AssistanceCategory)
            .where(AssistanceCategory.code == category_code)
        ))
    if member_match:
        query = query.where(Household.id.in_(sa.select(Member.household_id).where(*member_match)))
    return query.order_by(Household.id)


def reveal_id_number(member: Member, user: User, purpose: str, ip: str | None) -> str:
    """Decrypt one member's resident ID for city or town staff, writing one audit record."""
    purpose = (purpose or "").strip()
    if len(purpose) < 2:
        raise ServiceError(_("State the purpose of viewing the full ID number."), status=400, field="purpose")
    audit.record("reveal_id_number", user, "member", member.id, ip=ip,
                 household_id=member.household_id, purpose=purpose[:200])
    return crypto.decrypt(member.id_number_enc)


@dataclass(frozen=True)
class Timeline:
    """A household's material assistance by month beside its service items, orders, visits and outcomes."""

    material: list[tuple[date, int, list[str]]]  # month, total cents, in-kind notes
    items: list[ServiceItem]
    orders_by_item: dict[int, list[Order]]
    visits_by_order: dict[int, list[Visit]]
    outcomes_by_order: dict[int, list[Outcome]]
    feedback_by_order: dict[int, HouseholdFeedback]  # the household's own satisfaction (回访)
    changes: list[HouseholdChange] = field(default_factory=list)  # dated corrections, newest first


def order_records(order_ids: list[int]) -> tuple[dict[int, list[Visit]], dict[int, list[Outcome]]]:
    """The visits and the outcomes of some orders, by order id (for the item page and the timeline)."""
    visits_by_order: dict[int, list[Visit]] = {}
    for visit in db.session.scalars(sa.select(Visit).where(Visit.order_id.in_(order_ids)).order_by(Visit.starts_at)):
        visits_by_order.setdefault(visit.order_id, []).append(visit)
    outcomes_by_order: dict[int, list[Outcome]] = {}
    for outcome in db.session.scalars(sa.select(Outcome).where(Outcome.order_id.in_(order_ids)).order_by(Outcome.id)):
        outcomes_by_order.setdefault(outcome.order_id, []).append(outcome)
    return visits_by_order, outcomes_by_order


def household_timeline(household: Household) -> Timeline:
    """Everything the household received, material and services, for the staff timeline page."""
    material: dict[date, tuple[int, list[str]]] = {}
    for row in db.session.scalars(sa.select(MaterialAssistance).where(MaterialAssistance.household_id == household.id)
                                  .order_by(MaterialAssistance.month.desc())):
        cents, kinds = material.get(row.month, (0, []))
        material[row.month] = (cents + row.amount_cents, kinds + ([row.in_kind] if row.in_kind else []))
    items = list(db.session.scalars(sa.select(ServiceItem).where(ServiceItem.household_id == household.id)
                                    .order_by(ServiceItem.created_at.desc(), ServiceItem.id.desc())))
    order_list = list(db.session.scalars(sa.select(Order).where(Order.item_id.in_([i.id for i in items]))
                                         .order_by(Order.id)))
    order_ids = [o.id for o in order_list]
    visits_by_order, outcomes_by_order = order_records(order_ids)
    feedback_by_order = {f.order_id: f for f in db.session.scalars(
        sa.select(HouseholdFeedback).where(HouseholdFeedback.order_id.in_(order_ids)))}
    orders_by_item: dict[int, list[Order]] = {}
    for order in order_list:
        orders_by_item.setdefault(order.item_id, []).append(order)
    changes = list(db.session.scalars(
        sa.select(HouseholdChange).where(HouseholdChange.household_id == household.id)
        .order_by(HouseholdChange.effective_on.desc(), HouseholdChange.id.desc())))
    return Timeline([(m, c, k) for m, (c, k) in material.items()], items, orders_by_item, visits_by_order,
                    outcomes_by_order, feedback_by_order, changes)
