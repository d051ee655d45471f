"""Volunteer tasks under real concurrency (threads against the database), each case repeated RUNS times: sibling
check-ins all succeed and move the order once; a withdrawal racing sign-ups never loses or overbooks a place."""
from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from socialforce.platform.extensions import db
from socialforce.platform.models import (
    Order,
    OrderEvent,
    OrderState,
    TaskSignup,
    Visit,
    VisitStatus,
    Volunteer,
    VolunteerTask,
)
from socialforce.platform.services import ServiceError, dispatch, visits
from socialforce.platform.transactions import run_in_transaction
from tests import factories

RUNS = 20
NOW = datetime(2024, 3, 4, 0, 0)  # Monday 08:00 in Shanghai
START = NOW + timedelta(hours=3)


def task_with_volunteers(slots: int, signed_up: int, planned: bool) -> tuple[int, int, list[int]]:
    """(order id, task id, volunteer ids): a volunteer task, the first `signed_up` volunteers signed up (each with
    a visit at START when `planned`), the others not; committed."""
    order = dispatch.dispatch(factories.item(factories.household(), "daily_care", slots=slots),
                              dispatch.Choice(provider_id=None), None, NOW)
    task = db.session.scalar(sa.select(VolunteerTask).where(VolunteerTask.order_id == order.id))
    volunteer_ids = []
    for n in range(slots + 2):
        volunteer = factories.volunteer()
        volunteer_ids.append(volunteer.id)
        if n < signed_up:
            dispatch.sign_up(task.id, volunteer, NOW)
            if planned:
                visits.plan_visit(order, visits.Assignee(volunteer_id=volunteer.id), START, 60, None, NOW)
    db.session.commit()
    return order.id, task.id, volunteer_ids


def race(app, calls: list[Callable[[], object]]) -> tuple[int, list[str], list[BaseException]]:
    """Run each call in its own thread and transaction, all released at once: (successes, refusals, errors)."""
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
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return len(won), refused, errors


def check_in_call(visit_id: int) -> Callable[[], object]:
    return lambda: visits.check_in(db.session.get(Visit, visit_id), None, START)


@pytest.mark.slow
def test_sibling_check_ins_all_succeed_and_move_the_order_once(app):
    siblings = 5
    for run in range(RUNS):
        order_id, _, _ = task_with_volunteers(siblings, siblings, planned=True)
        visit_ids = db.session.scalars(sa.select(Visit.id).where(Visit.order_id == order_id)).all()
        db.session.commit()
        won, refused, errors = race(app, [check_in_call(v) for v in visit_ids])
        assert (won, refused, errors) == (siblings, [], []), f"run {run}"
        db.session.expire_all()
        assert db.session.get(Order, order_id).state == OrderState.in_service
        assert db.session.scalar(sa.select(sa.func.count(OrderEvent.id)).where(
            OrderEvent.order_id == order_id, OrderEvent.to_state == OrderState.in_service.value)) == 1, f"run {run}"
        assert set(db.session.scalars(sa.select(Visit.status).where(Visit.order_id == order_id))) == {
            VisitStatus.checked_in}


def withdraw_call(task_id: int, volunteer_id: int) -> Callable[[], object]:
    return lambda: dispatch.withdraw(task_id, db.session.get(Volunteer, volunteer_id), None, "家中有事，无法前往", NOW)


def sign_up_call(task_id: int, volunteer_id: int) -> Callable[[], object]:
    return lambda: dispatch.sign_up(task_id, db.session.get(Volunteer, volunteer_id), NOW)


@pytest.mark.slow
@pytest.mark.parametrize("slots", [1, 3])
def test_withdraw_racing_sign_ups_never_loses_or_overbooks_a_place(app, slots):
    for run in range(RUNS):
        order_id, task_id, volunteers = task_with_volunteers(slots, slots, planned=False)
        newcomers = volunteers[slots:]
        won, refused, errors = race(app, [withdraw_call(task_id, volunteers[0]),
                                          *(sign_up_call(task_id, v) for v in newcomers)])
        assert errors == [], f"run {run}: {errors[:3]}"
        db.session.expire_all()
        task = db.session.get(VolunteerTask, task_id)
        holders = set(db.session.scalars(sa.select(TaskSignup.volunteer_id).where(TaskSignup.task_id == task_id)))
        assert volunteers[0] not in holders, f"run {run}: the withdrawal was lost"
        assert task.taken == len(holders) <= slots, f"run {run}"
        assert won == 1 + len(holders & set(newcomers)) and won + len(refused) == 1 + len(newcomers)
        assert len(holders) == slots - 1 + len(holders & set(newcomers))
        assert db.session.scalar(sa.select(sa.func.count(OrderEvent.id)).where(
            OrderEvent.order_id == order_id, OrderEvent.reason.like("%家中有事%"))) == 1, f"run {run}"
