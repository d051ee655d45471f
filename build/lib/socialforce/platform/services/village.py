"""The village level (村居协理员): a village assistant's households, the needs they find on rounds (drafts that
town staff approve into open service items or return with a reason), and the staff side of that review.

Drafts are kept in item_drafts; approval and return are atomic conditional UPDATEs on `status = 'pending'`, so two
reviewers at once cannot both approve (and create two items) or approve and return the same draft.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from socialforce.platform import weekmask
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    DraftStatus,
    Frequency,
    Household,
    ItemDraft,
    ItemStatus,
    Order,
    Priority,
    Role,
    ServiceCategory,
    ServiceItem,
    User,
)
from socialforce.platform.scoping import household_filter
from socialforce.platform.services import ServiceError, audit, items, notices

RECENT_ORDERS = 3
NOTE_LENGTH = ItemDraft.__table__.c.review_note.type.length
DESCRIPTION_LENGTH = ItemDraft.__table__.c.description.type.length


@dataclass(frozen=True)
class DraftInput:
    """What the assistant's need form collects."""

    category_id: int | None
    description: str
    priority: str = Priority.normal.value


@dataclass(frozen=True)
class HouseholdRow:
    """One household of the village list: its open items and most recent orders."""

    household: Household
    open_items: list[ServiceItem]
    recent_orders: list[Order]


def village_households(user: User) -> sa.Select:
    """The households of the assistant's village (household_filter scopes every role), by code."""
    return (sa.select(Household).where(household_filter(user)).options(selectinload(Household.village))
            .order_by(Household.code, Household.id))


def household_rows(households: list[Household]) -> list[HouseholdRow]:
    """Each household with its open (not closed) items and its RECENT_ORDERS latest orders."""
    ids = [h.id for h in households]
    open_items: dict[int, list[ServiceItem]] = {i: [] for i in ids}
    for item in db.session.scalars(sa.select(ServiceItem).where(
            ServiceItem.household_id.in_(ids), ServiceItem.status != ItemStatus.closed)
            .options(selectinload(ServiceItem.category)).order_by(ServiceItem.id)):
        open_items[item.household_id].append(item)
    recent: dict[int, list[Order]] = {i: [] for i in ids}
    for order, household_id in db.session.execute(
            sa.select(Order, ServiceItem.household_id).join(ServiceItem, ServiceItem.id == Order.item_id)
            .where(ServiceItem.household_id.in_(ids)).order_by(Order.created_at.desc(), Order.id.desc())):
        if len(recent[household_id]) < RECENT_ORDERS:
            recent[household_id].append(order)
    return [HouseholdRow(h, open_items[h.id], recent[h.id]) for h in households]


def submit_draft(household: Household, data: DraftInput, actor: User) -> ItemDraft:
    """Record a need found on a round as a draft for town staff to review (they are told, once until read);
    flushes and audits."""
    if actor.role != Role.village_assistant or household.village_id != actor.village_id:
        raise ServiceError(_("Only the household's village assistant records needs here."), status=403)
    if data.category_id is None or db.session.get(ServiceCategory, data.category_id) is None:
        raise ServiceError(_("Choose a service category."), status=400, field="category_id")
    description = (data.description or "").strip()
    if not description:
        raise ServiceError(_("Describe the need."), status=400, field="description")
    if len(description) > DESCRIPTION_LENGTH:
        raise ServiceError(_("The description is limited to 500 characters."), status=400, field="description")
    if data.priority not in {p.value for p in Priority}:
        raise ServiceError(_("Choose a priority."), status=400, field="priority")
    draft = ItemDraft(household_id=household.id, category_id=data.category_id, description=description,
                      priority=Priority(data.priority), created_by_id=actor.id)
    db.session.add(draft)
    db.session.flush()
    audit.record("item_draft_submitted", actor, "item_draft", draft.id, household_id=household.id)
    notices.awaiting_review("village_need_pending", household.town)
    return draft


def my_drafts(user: User) -> sa.Select:
    """The drafts of the assistant's village, newest first (returned ones show their reason)."""
    return (sa.select(ItemDraft).join(Household, Household.id == ItemDraft.household_id)
            .where(household_filter(user)).options(selectinload(ItemDraft.category), selectinload(ItemDraft.household))
            .order_by(ItemDraft.created_at.desc(), ItemDraft.id.desc()))


def pending_drafts(user: User) -> sa.Select:
    """Drafts awaiting review among the staff user's households, oldest first."""
    return (sa.select(ItemDraft).join(Household, Household.id == ItemDraft.household_id)
            .where(household_filter(user), ItemDraft.status == DraftStatus.pending)
            .options(selectinload(ItemDraft.category), selectinload(ItemDraft.household).selectinload(
                Household.village))
            .order_by(ItemDraft.created_at, ItemDraft.id))


def pending_count(user: User) -> int:
    """How many drafts await the staff user's review."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(
        pending_drafts(user).order_by(None).options().subquery()))


def _claim(draft: ItemDraft, status: DraftStatus, actor: User, now: datetime, **values) -> None:
    done = db.session.execute(
        sa.update(ItemDraft).where(ItemDraft.id == draft.id, ItemDraft.status == DraftStatus.pending)
        .values(status=status, reviewed_by_id=actor.id, reviewed_at=now, **values)
        .execution_options(synchronize_session=False))
    if done.rowcount != 1:
        raise ServiceError(_("This draft has already been reviewed."))


def _check_reviewer(draft: ItemDraft, actor: User) -> None:
    if actor.role not in (Role.town_staff, Role.city_staff) or not db.session.scalar(
            sa.select(Household.id).where(Household.id == draft.household_id, household_filter(actor))):
        raise ServiceError(_("Only the household's town staff review its drafts."), status=403)


def approve_draft(draft: ItemDraft, actor: User, now: datetime) -> ServiceItem:
    """Turn a pending draft into a normal open service item (once, any weekly window: staff narrow it by editing
    the item); flushes and audits."""
    _check_reviewer(draft, actor)
    with db.session.begin_nested():  # a draft already reviewed leaves no item behind
        item = items.register(draft.household, items.ItemInput(
            category_id=draft.category_id, description=draft.description, member_id=None,
            priority=draft.priority, frequency=Frequency.once, windows=weekmask.ALL), actor)
        _claim(draft, DraftStatus.approved, actor, now, item_id=item.id)
    db.session.refresh(draft)
    audit.record("item_draft_approved", actor, "item_draft", draft.id, item_id=item.id)
    return item


def return_draft(draft: ItemDraft, reason: str, actor: User, now: datetime) -> ItemDraft:
    """Send a pending draft back to the assistant with a reason; flushes and audits."""
    _check_reviewer(draft, actor)
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(_("Say why the draft is returned."), status=400, field="reason")
    if len(reason) > NOTE_LENGTH:
        raise ServiceError(_("The reason is limited to 200 characters."), status=400, field="reason")
    _claim(draft, DraftStatus.returned, actor, now, review_note=reason)
    db.session.refresh(draft)
    audit.record("item_draft_returned", actor, "item_draft", draft.id)
    return draft

