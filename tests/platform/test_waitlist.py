"""The waitlist of a full volunteer task: a freed place goes to the first waiting volunteer who still fits, who has
WAITLIST_OFFER_HOURS to confirm before it passes on; a lapsed offer passes on exactly once, also when several
workers sweep at once (20 runs each on SQLite and PostgreSQL)."""
from __future__ import annotations

import random
import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
import sqlalchemy as sa

from socialforce.platform import weekmask
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    AuditLog,
    Notification,
    OrderState,
    Role,
    ServiceOffer,
    TaskSignup,
    User,
    Volunteer,
    VolunteerTask,
    WaitlistEntry,
    WaitlistState,
    utcnow,
)
from socialforce.platform.scheduler.jobs import JOBS
from socialforce.platform.services import ServiceError, dispatch, waitlist
from socialforce.platform.transactions import run_in_transaction
from tests import factories

NOW = utcnow().replace(second=0, microsecond=0)
REASON = "家中有事，无法前往"
EVENINGS = weekmask.from_cells([(d, 2) for d in range(7)])
MORNINGS = weekmask.from_cells([(d, 0) for d in range(7)])


def volunteer(availability: int = weekmask.ALL) -> Volunteer:
    """An approved volunteer with a login and an offer for daily care in 龙泉街道 (5 places a week)."""
    v = factories.volunteer(availability=availability)
    factories.offer(v.provider, ("daily_care",), windows=availability)
    factories.user(f"v{v.id}", Role.volunteer, provider_id=v.provider_id)
    return v


def task(slots: int, windows: int = weekmask.ALL) -> VolunteerTask:
    order = dispatch.dispatch(factories.item(factories.household(), "daily_care", slots=slots, windows=windows),
                              dispatch.Choice(provider_id=None), None, NOW)
    return db.session.scalar(sa.select(VolunteerTask).where(VolunteerTask.order_id == order.id))


def full_task(slots: int, waiting: int) -> tuple[VolunteerTask, list[Volunteer], list[Volunteer]]:
    """A task whose `slots` places are taken (the order accepted) and `waiting` volunteers on its waitlist."""
    t = task(slots)
    holders = [volunteer() for _ in range(slots)]
    for v in holders:
        dispatch.sign_up(t.id, v, NOW)
    queue = [volunteer() for _ in range(waiting)]
    for v in queue:
        waitlist.join(t.id, v, None, NOW)
    db.session.flush()
    return t, holders, queue


def entry(t: VolunteerTask, v: Volunteer) -> WaitlistEntry:
    db.session.expire_all()
    return waitlist.entry_of(t.id, v)


def notices(kind: str) -> list[Notification]:
    return list(db.session.scalars(sa.select(Notification).where(Notification.kind == kind).order_by(Notification.id)))


def user_of(v: Volunteer) -> int:
    return db.session.scalar(sa.select(User.id).where(User.provider_id == v.provider_id))


# --- joining and leaving ------------------------------------------------------------------------------------------


def test_only_a_full_task_the_volunteer_fits_and_does_not_hold_can_be_waited_for():
    t = task(slots=2)
    first, late = volunteer(), volunteer()
    with pytest.raises(ServiceError, match="请直接报名"):
        waitlist.join(t.id, first, None, NOW)  # places are free
    dispatch.sign_up(t.id, first, NOW)
    dispatch.sign_up(t.id, volunteer(), NOW)
    with pytest.raises(ServiceError, match="已在该任务中占有名额"):
        waitlist.join(t.id, first, None, NOW)
    evening_only = volunteer(availability=EVENINGS)
    morning_task = task(1, windows=MORNINGS)
    dispatch.sign_up(morning_task.id, volunteer(), NOW)
    with pytest.raises(ServiceError, match="不符"):
        waitlist.join(morning_task.id, evening_only, None, NOW)
    joined = waitlist.join(t.id, late, None, NOW)
    assert joined.state == WaitlistState.waiting and waitlist.position(joined) == 1
    with pytest.raises(ServiceError, match="已在该任务的候补名单上"):
        waitlist.join(t.id, late, None, NOW)
    assert db.session.scalar(sa.select(sa.func.count(AuditLog.id)).where(AuditLog.action == "waitlist_joined")) == 1


def test_a_volunteer_who_leaves_and_rejoins_goes_to_the_back():
    t, _, (a, b) = full_task(1, 2)
    waitlist.leave(t.id, a, None, NOW)
    assert entry(t, a).state == WaitlistState.left
    assert waitlist.position(entry(t, b)) == 1
    waitlist.join(t.id, a, None, NOW)
    assert waitlist.position(entry(t, a)) == 2
    with pytest.raises(ServiceError, match="不在该任务的候补名单上"):
        waitlist.leave(t.id, volunteer(), None, NOW)


# --- a freed place ------------------------------------------------------------------------------------------------


def test_a_withdrawal_offers_the_place_to_the_first_who_still_fits_and_holds_it_for_them():
    t, (holder,), (unfit, second, third) = full_task(1, 3)
    unfit.availability = EVENINGS  # no longer free when the task is: keeps the turn, skipped for this place
    db.session.execute(sa.update(ServiceOffer).where(
        ServiceOffer.provider_id == unfit.provider_id).values(windows=EVENINGS))
    t.order.item.windows = MORNINGS
    db.session.flush()
    dispatch.withdraw(t.id, holder, None, REASON, NOW)
    assert entry(t, unfit).state == WaitlistState.waiting
    offered = entry(t, second)
    assert offered.state == WaitlistState.offered
    assert offered.offer_expires_at == NOW + timedelta(hours=24)
    assert entry(t, third).state == WaitlistState.waiting
    assert db.session.get(VolunteerTask, t.id).taken == 1  # held for the offer
    with pytest.raises(ServiceError, match="名额"):
        dispatch.sign_up(t.id, volunteer(), NOW)
    (note,) = notices("waitlist_offer")
    assert note.user_id == user_of(second) and note.link == f"/volunteer/tasks/{t.id}"
    assert note.params["task_id"] == t.id and "name" not in str(note.params)


def test_the_offered_volunteer_confirms_in_time_and_holds_the_place():
    t, (holder,), (first, _) = full_task(1, 2)
    dispatch.withdraw(t.id, holder, None, REASON, NOW)
    waitlist.confirm(t.id, first, None, NOW + timedelta(hours=23))
    assert entry(t, first).state == WaitlistState.confirmed
    assert db.session.scalar(sa.select(TaskSignup.volunteer_id).where(TaskSignup.task_id == t.id)) == first.id
    assert db.session.get(VolunteerTask, t.id).taken == 1
    with pytest.raises(ServiceError, match="没有为您保留的名额"):
        waitlist.confirm(t.id, first, None, NOW)


def test_a_lapsed_offer_cannot_be_confirmed_and_the_sweep_passes_it_on_once():
    t, (holder,), (first, second) = full_task(1, 2)
    dispatch.withdraw(t.id, holder, None, REASON, NOW)
    late = NOW + timedelta(hours=24, minutes=1)
    with pytest.raises(ServiceError, match="期限已过"):
        waitlist.confirm(t.id, first, None, late)
    db.session.commit()
    assert waitlist.sweep_expired(late) == {"lapsed": 1, "seen": 1}
    assert waitlist.sweep_expired(late) == {"lapsed": 0, "seen": 0}
    assert entry(t, first).state == WaitlistState.expired
    assert entry(t, second).state == WaitlistState.offered
    assert [n.user_id for n in notices("waitlist_offer_lapsed")] == [user_of(first)]
    assert db.session.get(VolunteerTask, t.id).taken == 1


def test_turning_an_offer_down_passes_it_on_and_with_nobody_left_the_place_is_free_again():
    t, (holder,), (first,) = full_task(1, 1)
    dispatch.withdraw(t.id, holder, None, REASON, NOW)
    waitlist.leave(t.id, first, None, NOW)
    assert entry(t, first).state == WaitlistState.left
    assert db.session.get(VolunteerTask, t.id).taken == 0
    dispatch.sign_up(t.id, volunteer(), NOW)  # the place is open to anyone again


def test_a_cancelled_task_gives_a_lapsed_offer_back_and_closes_its_waitlist():
    t, (holder,), (first, second) = full_task(1, 2)
    dispatch.withdraw(t.id, holder, None, REASON, NOW)
    dispatch.cancel(t.order, None, "户主已搬离", NOW)
    with pytest.raises(ServiceError, match="已结束"):
        waitlist.confirm(t.id, first, None, NOW)
    db.session.commit()
    waitlist.sweep_expired(NOW + timedelta(hours=25))
    assert entry(t, second).state == WaitlistState.waiting and db.session.get(VolunteerTask, t.id).taken == 0
    assert waitlist.open_entries(second) == []
    with pytest.raises(ServiceError, match="已结束"):
        waitlist.join(t.id, volunteer(), None, NOW)


def test_the_sweep_is_a_scheduled_job():
    spec = next(s for s in JOBS if s.id == "sweep_waitlist_offers")
    assert spec.func.endswith("waitlist:sweep_expired") and spec.cadence == "minute"


# --- under concurrency --------------------------------------------------------------------------------------------

RUNS = 20


def race(app, calls: list[Callable[[], object]]) -> tuple[int, list[str], list[BaseException]]:
    """Run each call in its own thread and transaction, released at once: (successes, refusals, errors)."""
    barrier = threading.Barrier(len(calls))
    won, refused, errors = [], [], []

    def attempt(call: Callable[[], object]) -> None:
        with app.app_context():
            try:
                barrier.wait()
                run_in_transaction(call)
                won.append(1)
            except ServiceError as e:
                refused.append(e.message)
            except BaseException as e:  # noqa: BLE001 - collected and asserted below
                errors.append(e)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=attempt, args=(c,)) for c in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return len(won), refused, errors


def offered_ids(task_id: int) -> list[int]:
    """Volunteer ids ever offered a place on the task, in the order of their entries."""
    db.session.expire_all()
    return list(db.session.scalars(sa.select(WaitlistEntry.volunteer_id).where(
        WaitlistEntry.task_id == task_id, WaitlistEntry.offered_at.is_not(None)).order_by(WaitlistEntry.id)))


def holders_of(task_id: int) -> set[int]:
    return set(db.session.scalars(sa.select(TaskSignup.volunteer_id).where(TaskSignup.task_id == task_id)))


def withdraw_call(task_id: int, volunteer_id: int) -> Callable[[], object]:
    return lambda: dispatch.withdraw(task_id, db.session.get(Volunteer, volunteer_id), None, REASON, NOW)


def confirm_call(task_id: int, volunteer_id: int) -> Callable[[], object]:
    return lambda: waitlist.confirm(task_id, db.session.get(Volunteer, volunteer_id), None, NOW)


@pytest.mark.slow
def test_fifty_volunteers_five_places_ten_withdrawals_each_place_goes_to_exactly_one_in_order(app):
    """50 volunteers: 5 hold the places, 45 wait. 10 withdrawals in random order, five at a time racing each other:
    each freed place is offered to exactly one waiting volunteer, strictly in waitlist order, and taken by them."""
    for run in range(RUNS):
        rng = random.Random(run)
        t, holders, queue = full_task(5, 45)
        task_id, queue_ids = t.id, [v.id for v in queue]
        assert t.order.state == OrderState.accepted
        db.session.commit()
        expected = {h.id for h in holders}
        for round_no in range(2):
            leaving = rng.sample(sorted(holders_of(task_id)), 5)
            db.session.commit()
            won, refused, errors = race(app, [withdraw_call(task_id, v) for v in leaving])
            assert (won, refused, errors) == (5, [], []), f"run {run} round {round_no}: {refused} {errors[:2]}"
            expected -= set(leaving)
            offered = offered_ids(task_id)
            assert offered == queue_ids[:5 * (round_no + 1)], f"run {run}: not in waitlist order"
            assert db.session.get(VolunteerTask, task_id).taken == 5
            newly = offered[5 * round_no:]
            db.session.commit()
            won, refused, errors = race(app, [confirm_call(task_id, v) for v in reversed(newly)])
            assert (won, refused, errors) == (5, [], []), f"run {run}: {refused} {errors[:2]}"
            db.session.expire_all()
            expected |= set(newly)
            assert holders_of(task_id) == expected, f"run {run}"

        assert len(notices("waitlist_offer")) == 10 * (run + 1)
        assert db.session.scalar(sa.select(sa.func.count(WaitlistEntry.id)).where(
            WaitlistEntry.task_id == task_id, WaitlistEntry.state == WaitlistState.waiting)) == 35
        assert db.session.get(VolunteerTask, task_id).taken == len(holders_of(task_id)) == 5


@pytest.mark.slow
def test_concurrent_sweeps_pass_each_lapsed_offer_on_exactly_once(app):
    """Five offers lapse; four workers sweep at the same moment: each lapsed offer passes to exactly one next
    volunteer, in order, and every lapse is recorded once."""
    late = NOW + timedelta(hours=25)
    for run in range(RUNS):
        t, holders, queue = full_task(5, 12)
        task_id, queue_ids = t.id, [v.id for v in queue]
        for holder in holders:
            dispatch.withdraw(task_id, holder, None, REASON, NOW)
        db.session.commit()
        assert offered_ids(task_id) == queue_ids[:5]
        lapsed_before = len(notices("waitlist_offer_lapsed"))
        db.session.commit()
        won, refused, errors = race(app, [lambda: waitlist.sweep_expired(late) for _ in range(4)])
        assert (won, refused, errors) == (4, [], []), f"run {run}: {errors[:2]}"
        db.session.expire_all()
        assert offered_ids(task_id) == queue_ids[:10], f"run {run}"
        states = dict(db.session.execute(sa.select(WaitlistEntry.volunteer_id, WaitlistEntry.state).where(
            WaitlistEntry.task_id == task_id)).all())
        assert [states[v] for v in queue_ids[:5]] == [WaitlistState.expired] * 5
        assert [states[v] for v in queue_ids[5:10]] == [WaitlistState.offered] * 5
        assert [states[v] for v in queue_ids[10:]] == [WaitlistState.waiting] * 2
        assert len(notices("waitlist_offer_lapsed")) - lapsed_before == 5
        assert db.session.scalar(sa.select(sa.func.count(AuditLog.id)).where(
            AuditLog.action == "waitlist_offer_expired", AuditLog.object_id == task_id)) == 5
        assert db.session.get(VolunteerTask, task_id).taken == 5
