"""What a volunteer needs to decide on a task: when, where (village, never the address), places left, what to bring;
publishing a task with what to bring; the full tasks a volunteer fits and may wait for; the open tasks ranked for a
volunteer and a sign-up that first checks the task fits (shared by the volunteer portal and the JSON API)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from socialforce.matching import types as mt
from socialforce.platform import scoping, weekmask
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    OPEN_WAITLIST_STATES,
    Household,
    Order,
    OrderState,
    ProviderStatus,
    ServiceCategory,
    ServiceItem,
    TaskSignup,
    Town,
    User,
    Village,
    Visit,
    VisitStatus,
    Volunteer,
    VolunteerTask,
    WaitlistEntry,
    offer_towns,
    utcnow,
)
from socialforce.platform.models.offers import ServiceOffer
from socialforce.platform.models.orders import LIVE_TASK_STATES
from socialforce.platform.row_loads import ITEM_ROW
from socialforce.platform.services import ServiceError, audit, dispatch, matching

BRING_MAX = 200
FULL_TASKS_SHOWN = 10


@dataclass(frozen=True)
class TaskFacts:
    """One task as a volunteer sees it (no address, no names): time, place, places, what to bring."""

    task_id: int
    order_id: int
    item_id: int
    order_state: OrderState
    category: ServiceCategory
    town: Town
    village: str
    description: str
    slots: int
    taken: int
    bring: str | None
    next_visit_at: datetime | None  # the earliest planned visit of the order still to come (naive UTC)
    starts_at: datetime | None  # the task's own start time, when staff set one
    window_cells: tuple[tuple[int, int], ...]  # the item's weekly windows as (day, period) pairs
    waiting: int  # volunteers on the waitlist (waiting or holding an offer)

    @property
    def places_left(self) -> int:
        """Places nobody holds (a place held for a waitlist offer is not free)."""
        return max(self.slots - self.taken, 0)

    @property
    def when(self) -> datetime | None:
        """The task's date and time: its next planned visit, else its own start time."""
        return self.next_visit_at or self.starts_at

    @property
    def live(self) -> bool:
        """Whether places may still be taken or freed (dispatched, accepted or scheduled)."""
        return self.order_state in LIVE_TASK_STATES


def task_facts(task_ids: list[int], now: datetime | None = None,
               seen_by: Volunteer | None = None) -> dict[int, TaskFacts]:
    """Facts for each task id (unknown ids, and with `seen_by` those the volunteer may not see, are left out): three
    queries whatever the number of tasks."""
    if not task_ids:
        return {}
    now = now or utcnow()
    rows = db.session.execute(
        sa.select(VolunteerTask, Order.id.label("order_id"), Order.state, ServiceItem.id.label("item_id"),
                  ServiceItem.description, ServiceItem.windows, ServiceCategory, Town, Village.name)
        .join(Order, Order.id == VolunteerTask.order_id)
        .join(ServiceItem, ServiceItem.id == Order.item_id)
        .join(ServiceCategory, ServiceCategory.id == ServiceItem.category_id)
        .join(Household, Household.id == ServiceItem.household_id)
        .join(Town, Town.id == Household.town_id)
        .join(Village, Village.id == Household.village_id)
        .where(VolunteerTask.id.in_(task_ids),
               scoping.volunteer_task_filter(seen_by) if seen_by is not None else sa.true())).all()
    order_ids = [r.order_id for r in rows]
    next_visit = dict(db.session.execute(
        sa.select(Visit.order_id, sa.func.min(Visit.starts_at))
        .where(Visit.order_id.in_(order_ids), Visit.status == VisitStatus.planned, Visit.starts_at >= now)
        .group_by(Visit.order_id)).all())
    waiting = dict(db.session.execute(
        sa.select(WaitlistEntry.task_id, sa.func.count(WaitlistEntry.id))
        .where(WaitlistEntry.task_id.in_(task_ids), WaitlistEntry.state.in_(OPEN_WAITLIST_STATES))
        .group_by(WaitlistEntry.task_id)).all())
    out = {}
    for r in rows:
        task = r[0]
        out[task.id] = TaskFacts(
            task_id=task.id, order_id=r.order_id, item_id=r.item_id, order_state=OrderState(r.state),
            category=r.ServiceCategory, town=r.Town, village=r.name, description=r.description, slots=task.slots,
            taken=task.taken, bring=task.bring, next_visit_at=next_visit.get(r.order_id), starts_at=task.starts_at,
            window_cells=tuple(weekmask.cells(r.windows)), waiting=waiting.get(task.id, 0))
    return out


def tasks_of_items(item_ids: list[int]) -> dict[int, int]:
    """The live task id of each item that has one."""
    if not item_ids:
        return {}
    return dict(db.session.execute(
        sa.select(Order.item_id, VolunteerTask.id).join(VolunteerTask, VolunteerTask.order_id == Order.id)
        .where(Order.item_id.in_(item_ids), Order.state.in_(LIVE_TASK_STATES))).all())


def check_bring(text: str | None) -> str | None:
    """What to bring, trimmed (None when empty); refused when longer than the column."""
    text = (text or "").strip()
    if len(text) > BRING_MAX:
        raise ServiceError(_("What to bring is limited to %(n)s characters.", n=BRING_MAX), status=400, field="bring")
    return text or None


def publish(item: ServiceItem, actor: User | None, bring: str | None = None,
            now: datetime | None = None) -> Order:
    """Publish an item of a volunteer category as a task, with what volunteers should bring. Flushes."""
    bring = check_bring(bring)
    if not item.category.volunteer_task:
        raise ServiceError(_("Only items of a volunteer category are published as volunteer tasks."), status=400)
    order = dispatch.dispatch(item, dispatch.Choice(provider_id=None), actor, now)
    task = db.session.scalar(sa.select(VolunteerTask).where(VolunteerTask.order_id == order.id))
    task.bring = bring
    db.session.flush()
    return order


def set_bring(task_id: int, bring: str | None, actor: User) -> VolunteerTask:
    """Change what volunteers should bring for a live task; audited. Flushes."""
    bring = check_bring(bring)
    task = db.session.get(VolunteerTask, task_id)
    if task is None or OrderState(task.order.state) not in LIVE_TASK_STATES:
        raise ServiceError(_("This task is closed."), status=409)
    if task.bring != bring:
        task.bring = bring
        db.session.flush()
        audit.record("task_bring_changed", actor, "volunteer_task", task.id, length=len(bring or ""))
    return task


def full_tasks_for(volunteer: Volunteer, now: datetime | None = None, limit: int = FULL_TASKS_SHOWN) -> list[int]:
    """Ids of full live tasks the volunteer fits (the sign-up's rules) and neither holds nor waits for, nearest
    town first: those offered with "join the waitlist"."""
    now = now or utcnow()
    if volunteer.provider.status != ProviderStatus.approved:
        return []
    skills = volunteer.skills.split()
    if not skills or not volunteer.availability:
        return []
    towns = sa.select(offer_towns.c.town_id).join(ServiceOffer, ServiceOffer.id == offer_towns.c.offer_id).where(
        ServiceOffer.provider_id == volunteer.provider_id)
    rows = db.session.execute(
        sa.select(VolunteerTask.id, ServiceItem.id.label("item_id"))
        .join(Order, Order.id == VolunteerTask.order_id)
        .join(ServiceItem, ServiceItem.id == Order.item_id)
        .join(ServiceCategory, ServiceCategory.id == ServiceItem.category_id)
        .join(Household, Household.id == ServiceItem.household_id)
        .where(Order.state.in_(LIVE_TASK_STATES), VolunteerTask.taken >= VolunteerTask.slots,
               ServiceCategory.code.in_(skills), ServiceItem.windows.op("&")(volunteer.availability) != 0,
               sa.or_(Household.town_id == volunteer.provider.town_id, Household.town_id.in_(towns)),
               scoping.households_served_by(volunteer.provider),
               ~sa.exists().where(TaskSignup.task_id == VolunteerTask.id, TaskSignup.volunteer_id == volunteer.id),
               ~sa.exists().where(WaitlistEntry.task_id == VolunteerTask.id,
                                  WaitlistEntry.volunteer_id == volunteer.id,
                                  WaitlistEntry.state.in_(OPEN_WAITLIST_STATES)))
        .order_by(sa.case((Household.town_id == volunteer.provider.town_id, 0), else_=1), VolunteerTask.id)
        .limit(limit * 3)).all()
    out = []
    for task_id, item_id in rows:
        if not matching.eligibility_problems(volunteer, db.session.get(ServiceItem, item_id), now):
            out.append(task_id)
        if len(out) == limit:
            break
    return out


@dataclass(frozen=True)
class RankedTask:
    """One open task offered to a volunteer: the ranking candidate, its item and its task."""

    candidate: mt.Candidate
    item: ServiceItem
    task: VolunteerTask


def ranked_tasks(volunteer: Volunteer, k: int = 20) -> list[RankedTask]:
    """The open tasks ranked for the volunteer (reciprocal fit), best first, only live tasks it may take."""
    ranked = matching.tasks_for_volunteer(volunteer, k=k)
    ids = [c.item_id for c in ranked]
    items = {it.id: it for it in db.session.scalars(
        sa.select(ServiceItem).where(ServiceItem.id.in_(ids)).options(*ITEM_ROW))}
    tasks = {task.order.item_id: task for task in db.session.scalars(
        sa.select(VolunteerTask).join(Order, VolunteerTask.order_id == Order.id)
        .where(Order.item_id.in_(ids), Order.state.in_(LIVE_TASK_STATES)).options(selectinload(VolunteerTask.order)))}
    return [RankedTask(c, items[c.item_id], tasks[c.item_id]) for c in ranked
            if c.item_id in items and c.item_id in tasks]


def my_tasks(volunteer: Volunteer) -> sa.Select:
    """The tasks the volunteer holds a place on, newest first."""
    return (sa.select(VolunteerTask).join(TaskSignup, TaskSignup.task_id == VolunteerTask.id)
            .where(TaskSignup.volunteer_id == volunteer.id).order_by(VolunteerTask.id.desc())
            .options(selectinload(VolunteerTask.order).selectinload(Order.item).options(*ITEM_ROW)))


def sign_up_if_fitting(task_id: int, volunteer: Volunteer) -> TaskSignup:
    """Take a place on a task the volunteer fits (skills, certificates, town, free time); 404 for no such task or one
    of a county the volunteer's provider does not serve."""
    task = db.session.scalar(
        sa.select(VolunteerTask).join(Order, Order.id == VolunteerTask.order_id)
        .join(ServiceItem, ServiceItem.id == Order.item_id).join(Household, Household.id == ServiceItem.household_id)
        .where(VolunteerTask.id == task_id, scoping.volunteer_task_filter(volunteer)))
    if task is None:
        raise ServiceError(_("This task does not exist."), 404)
    if matching.eligibility_problems(volunteer, task.order.item):
        raise ServiceError(_("This task does not fit your skills, certificates, town or free time."), 409)
    return dispatch.sign_up(task_id, volunteer)
