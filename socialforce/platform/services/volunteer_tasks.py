"""The volunteer's open tasks, ranked for them, and a sign-up that first checks the task fits: shared by the
volunteer portal and the JSON API so both apply the same rules."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from socialforce.matching import types as mt
from socialforce.platform.extensions import db
from socialforce.platform.models import Household, Order, ServiceItem, TaskSignup, Volunteer, VolunteerTask
from socialforce.platform.models.orders import LIVE_TASK_STATES
from socialforce.platform.services import ServiceError, dispatch, matching

ITEM_LOADS = (selectinload(ServiceItem.category),
              selectinload(ServiceItem.household).selectinload(Household.town),
              selectinload(ServiceItem.household).selectinload(Household.village))


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
        sa.select(ServiceItem).where(ServiceItem.id.in_(ids)).options(*ITEM_LOADS))}
    tasks = {task.order.item_id: task for task in db.session.scalars(
        sa.select(VolunteerTask).join(Order, VolunteerTask.order_id == Order.id)
        .where(Order.item_id.in_(ids), Order.state.in_(LIVE_TASK_STATES)).options(selectinload(VolunteerTask.order)))}
    return [RankedTask(c, items[c.item_id], tasks[c.item_id]) for c in ranked
            if c.item_id in items and c.item_id in tasks]


def my_tasks(volunteer: Volunteer) -> sa.Select:
    """The tasks the volunteer holds a place on, newest first."""
    return (sa.select(VolunteerTask).join(TaskSignup, TaskSignup.task_id == VolunteerTask.id)
            .where(TaskSignup.volunteer_id == volunteer.id).order_by(VolunteerTask.id.desc())
            .options(selectinload(VolunteerTask.order).selectinload(Order.item).options(*ITEM_LOADS)))


def sign_up_if_fitting(task_id: int, volunteer: Volunteer) -> TaskSignup:
    """Take a place on a task the volunteer fits (skills, certificates, town, free time); 404 for no such task."""
    task = db.session.get(VolunteerTask, task_id)
    if task is None:
        raise ServiceError(_("This task does not exist."), 404)
    if matching.eligibility_problems(volunteer, task.order.item):
        raise ServiceError(_("This task does not fit your skills, certificates, town or free time."), 409)
    return dispatch.sign_up(task_id, volunteer)
