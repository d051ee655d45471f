"""The waitlist of a full volunteer task: join, leave, and freed places offered in order, each for a time limit.

A freed place (a withdrawal, an offer turned down, left or lapsed) goes to the first volunteer on the waitlist who
still fits the task by the rules the sign-up uses (`matching.eligibility_problems`: skills, qualifications, free
time, town or radius, own capacity); those who no longer fit keep their turn for a later place. The place is held
for the offer: it stays counted in the task's `taken`, so no sign-up can take it meanwhile, and the volunteer has
WAITLIST_OFFER_HOURS to confirm it. If nobody on the list fits, the place is given back (`taken` - 1).

Exactly once: every change of an entry is a conditional UPDATE on the state it was read in (`waiting` ->
`offered`, `offered` -> `confirmed` / `expired` / `left`) checked by its row count, so of two sweeps (or a sweep
and a confirmation) racing for one offer exactly one moves it, and only that one passes the place on. On SQLite a
writer whose snapshot went stale is refused ("database is locked") and `run_in_transaction` runs it again on
fresh rows.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from socialforce.platform import links
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    OPEN_WAITLIST_STATES,
    Order,
    OrderState,
    ProviderStatus,
    TaskSignup,
    User,
    Volunteer,
    VolunteerTask,
    WaitlistEntry,
    WaitlistState,
    utcnow,
)
from socialforce.platform.models.orders import LIVE_TASK_STATES
from socialforce.platform.services import ServiceError, audit, matching, notifications, orders
from socialforce.platform.transactions import run_in_transaction

SWEEP_BATCH = 500


def offer_hours() -> float:
    """How long a volunteer has to confirm an offered place (config WAITLIST_OFFER_HOURS)."""
    return float(current_app.config["WAITLIST_OFFER_HOURS"])


def entry_of(task_id: int, volunteer: Volunteer) -> WaitlistEntry | None:
    """The volunteer's waitlist entry on a task (in any state), if any."""
    return db.session.scalar(sa.select(WaitlistEntry).where(
        WaitlistEntry.task_id == task_id, WaitlistEntry.volunteer_id == volunteer.id))


def position(entry: WaitlistEntry) -> int:
    """1-based place of a waiting entry in its task's queue (0 when it is not waiting)."""
    if entry.state != WaitlistState.waiting:
        return 0
    return 1 + (db.session.scalar(sa.select(sa.func.count(WaitlistEntry.id)).where(
        WaitlistEntry.task_id == entry.task_id, WaitlistEntry.state == WaitlistState.waiting,
        WaitlistEntry.id < entry.id)) or 0)


def _live_task(task_id: int) -> VolunteerTask:
    task = db.session.get(VolunteerTask, task_id)
    if task is None:
        raise ServiceError(_("No such task."), status=404)
    db.session.refresh(task)
    if OrderState(task.order.state) not in LIVE_TASK_STATES:
        raise ServiceError(_("This task is closed; its waitlist is closed too."), status=409)
    return task


def join(task_id: int, volunteer: Volunteer, actor: User | None, now: datetime | None = None) -> WaitlistEntry:
    """Join the waitlist of a full task the volunteer fits and has not signed up for. Flushes."""
    now = now or utcnow()
    task = _live_task(task_id)
    if volunteer.provider.status != ProviderStatus.approved:
        raise ServiceError(_("Your registration is not approved yet."), status=403)
    if db.session.scalar(sa.select(TaskSignup.id).where(TaskSignup.task_id == task.id,
                                                        TaskSignup.volunteer_id == volunteer.id)):
        raise ServiceError(_("You already have a place on this task."), status=409)
    if task.taken < task.slots:
        raise ServiceError(_("This task still has a free place: sign up instead."), status=409)
    if matching.eligibility_problems(volunteer, task.order.item, now):
        raise ServiceError(_("This task does not fit your skills, certificates, town or free time."), status=409)
    old = entry_of(task.id, volunteer)
    if old is not None and old.state in OPEN_WAITLIST_STATES:
        raise ServiceError(_("You are already on the waitlist of this task."), status=409)
    if old is not None:  # rejoining after leaving or letting an offer lapse: to the back of the queue
        db.session.execute(sa.delete(WaitlistEntry).where(WaitlistEntry.id == old.id,
                                                          WaitlistEntry.state.not_in(OPEN_WAITLIST_STATES)))
    entry = WaitlistEntry(task_id=task.id, volunteer_id=volunteer.id, state=WaitlistState.waiting, created_at=now)
    db.session.add(entry)
    try:
        db.session.flush()
    except sa.exc.IntegrityError:
        raise ServiceError(_("You are already on the waitlist of this task.")) from None
    audit.record("waitlist_joined", actor, "volunteer_task", task.id, volunteer_id=volunteer.id)
    return entry


def leave(task_id: int, volunteer: Volunteer, actor: User | None, now: datetime | None = None) -> None:
    """Leave the waitlist; an offered place is turned down and passes to the next in line. Flushes."""
    now = now or utcnow()
    entry = entry_of(task_id, volunteer)
    if entry is None or entry.state not in OPEN_WAITLIST_STATES:
        raise ServiceError(_("You are not on the waitlist of this task."), status=404)
    was = WaitlistState(entry.state)
    if not _move(entry.id, was, WaitlistState.left, now):
        raise ServiceError(_("Your waitlist place changed a moment ago. Please reload and try again."), status=409)
    audit.record("waitlist_left", actor, "volunteer_task", task_id, volunteer_id=volunteer.id,
                 offer_declined=was == WaitlistState.offered)
    if was == WaitlistState.offered:
        pass_on(task_id, now)


def confirm(task_id: int, volunteer: Volunteer, actor: User | None, now: datetime | None = None) -> TaskSignup:
    """Take the place offered to the volunteer before the offer lapses: the held place becomes a sign-up. Flushes."""
    now = now or utcnow()
    entry = entry_of(task_id, volunteer)
    if entry is None or entry.state != WaitlistState.offered:
        raise ServiceError(_("No place is offered to you on this task."), status=404)
    _live_task(task_id)
    confirmed = db.session.execute(
        sa.update(WaitlistEntry)
        .where(WaitlistEntry.id == entry.id, WaitlistEntry.state == WaitlistState.offered,
               WaitlistEntry.offer_expires_at >= now)
        .values(state=WaitlistState.confirmed, decided_at=now).execution_options(synchronize_session=False))
    if confirmed.rowcount != 1:
        raise ServiceError(_("This offer has lapsed and the place passed to the next volunteer."), status=409)
    signup = TaskSignup(task_id=task_id, volunteer_id=volunteer.id, created_at=now)
    db.session.add(signup)
    db.session.flush()
    task = db.session.get(VolunteerTask, task_id)
    db.session.refresh(task.order)
    if task.order.state == OrderState.dispatched:
        orders.advance(task.order, OrderState.accepted, None, reason="a volunteer took a place from the waitlist",
                       now=now)
    audit.record("waitlist_confirmed", actor, "volunteer_task", task_id, volunteer_id=volunteer.id)
    return signup


def place_freed(task_id: int, now: datetime) -> WaitlistEntry | None:
    """A place of the task was just given back (`taken` - 1 already done): hold it for the first on the waitlist
    who fits and offer it to them. Returns the offered entry, if any. Flushes."""
    waiting = db.session.scalar(sa.select(WaitlistEntry.id).where(
        WaitlistEntry.task_id == task_id, WaitlistEntry.state == WaitlistState.waiting).limit(1))
    if waiting is None:
        return None
    held = db.session.execute(
        sa.update(VolunteerTask).where(VolunteerTask.id == task_id, VolunteerTask.taken < VolunteerTask.slots)
        .values(taken=VolunteerTask.taken + 1).execution_options(synchronize_session=False))
    if held.rowcount != 1:
        return None
    return pass_on(task_id, now)


def pass_on(task_id: int, now: datetime) -> WaitlistEntry | None:
    """Offer a place held for the waitlist (counted in `taken`) to the first waiting volunteer who fits the task
    and is not signed up; if none does, or the task is closed, give the place back. Flushes."""
    task = db.session.get(VolunteerTask, task_id)
    db.session.refresh(task.order)
    if OrderState(task.order.state) in LIVE_TASK_STATES:
        item = task.order.item
        after = 0
        while True:
            entry = _next_waiting(task_id, after)
            if entry is None:
                break
            after = entry.id
            volunteer = db.session.get(Volunteer, entry.volunteer_id)
            if volunteer.provider.status != ProviderStatus.approved or matching.eligibility_problems(
                    volunteer, item, now):
                continue  # keeps their turn for a later place
            expires = now + timedelta(hours=offer_hours())
            offered = db.session.execute(
                sa.update(WaitlistEntry).where(WaitlistEntry.id == entry.id, WaitlistEntry.state == WaitlistState.waiting)
                .values(state=WaitlistState.offered, offered_at=now, offer_expires_at=expires)
                .execution_options(synchronize_session=False))
            if offered.rowcount != 1:
                continue  # left (or was offered by a concurrent pass) a moment ago
            audit.record("waitlist_offered", None, "volunteer_task", task_id, volunteer_id=volunteer.id,
                         expires_at=expires.isoformat(timespec="minutes"))
            notifications.notify_provider(volunteer.provider_id, "waitlist_offer", {
                "task_id": task_id, "category": item.category.code,
                "when": expires.isoformat(timespec="minutes")}, links.to("volunteer_task", task_id))
            db.session.refresh(entry)
            return entry
    db.session.execute(
        sa.update(VolunteerTask).where(VolunteerTask.id == task_id, VolunteerTask.taken > 0)
        .values(taken=VolunteerTask.taken - 1).execution_options(synchronize_session=False))
    db.session.flush()
    return None


def _next_waiting(task_id: int, after_id: int) -> WaitlistEntry | None:
    """The first waiting entry after `after_id` whose volunteer holds no place on the task."""
    return db.session.scalar(
        sa.select(WaitlistEntry).where(
            WaitlistEntry.task_id == task_id, WaitlistEntry.state == WaitlistState.waiting,
            WaitlistEntry.id > after_id,
            ~sa.exists().where(TaskSignup.task_id == task_id, TaskSignup.volunteer_id == WaitlistEntry.volunteer_id))
        .order_by(WaitlistEntry.id).limit(1).execution_options(populate_existing=True))


def _move(entry_id: int, was: WaitlistState, to: WaitlistState, now: datetime) -> bool:
    """Change an entry's state only if it is still `was` (the one atomic step every change goes through)."""
    return db.session.execute(
        sa.update(WaitlistEntry).where(WaitlistEntry.id == entry_id, WaitlistEntry.state == was)
        .values(state=to, decided_at=now).execution_options(synchronize_session=False)).rowcount == 1


def expire_offer(entry_id: int, now: datetime) -> bool:
    """Let one lapsed offer go and pass its place on; False when another worker (or the volunteer) was first."""
    lapsed = db.session.execute(
        sa.update(WaitlistEntry).where(WaitlistEntry.id == entry_id, WaitlistEntry.state == WaitlistState.offered,
                                       WaitlistEntry.offer_expires_at < now)
        .values(state=WaitlistState.expired, decided_at=now).execution_options(synchronize_session=False))
    if lapsed.rowcount != 1:
        return False
    entry = db.session.get(WaitlistEntry, entry_id, populate_existing=True)
    volunteer = db.session.get(Volunteer, entry.volunteer_id)
    audit.record("waitlist_offer_expired", None, "volunteer_task", entry.task_id, volunteer_id=entry.volunteer_id)
    notifications.notify_provider(volunteer.provider_id, "waitlist_offer_lapsed", {"task_id": entry.task_id},
                                  links.to("volunteer_task", entry.task_id))
    pass_on(entry.task_id, now)
    return True


def sweep_expired(now: datetime) -> dict:
    """Scheduler job: every lapsed offer passes its place on, once; one transaction per offer."""
    due = db.session.scalars(
        sa.select(WaitlistEntry.id).where(WaitlistEntry.state == WaitlistState.offered,
                                          WaitlistEntry.offer_expires_at < now)
        .order_by(WaitlistEntry.offer_expires_at, WaitlistEntry.id).limit(SWEEP_BATCH)).all()
    db.session.commit()
    passed = 0
    for entry_id in due:
        passed += run_in_transaction(lambda entry_id=entry_id: expire_offer(entry_id, now))
    return {"lapsed": passed, "seen": len(due)}


def open_entries(volunteer: Volunteer) -> list[WaitlistEntry]:
    """The volunteer's waiting and offered entries on live tasks, offers first."""
    offered_first = sa.case((WaitlistEntry.state == WaitlistState.offered, 0), else_=1)
    return list(db.session.scalars(
        sa.select(WaitlistEntry).join(VolunteerTask, VolunteerTask.id == WaitlistEntry.task_id)
        .join(Order, Order.id == VolunteerTask.order_id)
        .where(WaitlistEntry.volunteer_id == volunteer.id, WaitlistEntry.state.in_(OPEN_WAITLIST_STATES),
               Order.state.in_(LIVE_TASK_STATES))
        .order_by(offered_first, WaitlistEntry.id)))
