"""Volunteer sign-up under real concurrency: never overbooked, never twice, refusals are clean."""
import threading

import pytest
import sqlalchemy as sa

from socialforce.platform.extensions import db
from socialforce.platform.models import TaskSignup, VolunteerTask
from socialforce.platform.services import ServiceError, dispatch
from socialforce.platform.transactions import run_in_transaction
from tests import factories

THREADS, SLOTS, RUNS = 50, 5, 20


def make_task() -> tuple[int, list[int]]:
    h = factories.household()
    it = factories.item(h, "daily_care", slots=SLOTS)
    order = dispatch.dispatch(it, dispatch.Choice(provider_id=None), None)
    volunteers = [factories.volunteer().id for _ in range(THREADS)]
    db.session.commit()
    return db.session.scalar(sa.select(VolunteerTask.id).where(VolunteerTask.order_id == order.id)), volunteers


def race(app, task_id: int, volunteer_ids: list[int]) -> tuple[int, int, list[BaseException]]:
    barrier = threading.Barrier(len(volunteer_ids))
    won, refused, errors = [], [], []

    def attempt(volunteer_id: int) -> None:
        with app.app_context():
            from socialforce.platform.models import Volunteer

            volunteer = db.session.get(Volunteer, volunteer_id)
            db.session.commit()  # end the read transaction before racing
            barrier.wait()
            try:
                run_in_transaction(lambda: dispatch.sign_up(task_id, volunteer))
                won.append(volunteer_id)
            except ServiceError:
                refused.append(volunteer_id)
            except BaseException as e:  # noqa: BLE001 - collected and asserted below
                errors.append(e)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=attempt, args=(v,)) for v in volunteer_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return len(won), len(refused), errors


@pytest.mark.slow
def test_fifty_concurrent_signups_for_five_slots(app):
    for run in range(RUNS):
        task_id, volunteers = make_task()
        won, refused, errors = race(app, task_id, volunteers)
        assert errors == [], f"run {run}: {errors[:3]}"
        assert (won, refused) == (SLOTS, THREADS - SLOTS), f"run {run}"
        db.session.expire_all()
        assert db.session.get(VolunteerTask, task_id).taken == SLOTS
        assert db.session.scalar(sa.select(sa.func.count(TaskSignup.id)).where(TaskSignup.task_id == task_id)) == SLOTS


def test_one_volunteer_never_holds_two_slots(app):
    task_id, volunteers = make_task()
    won, refused, errors = race(app, task_id, [volunteers[0]] * 8)
    assert errors == []
    assert (won, refused) == (1, 7)


def test_withdrawing_frees_the_slot(app):
    task_id, volunteers = make_task()
    from socialforce.platform.models import Volunteer

    first = [db.session.get(Volunteer, v) for v in volunteers[:SLOTS + 1]]
    for v in first[:SLOTS]:
        run_in_transaction(lambda v=v: dispatch.sign_up(task_id, v))
    with pytest.raises(ServiceError):
        run_in_transaction(lambda: dispatch.sign_up(task_id, first[SLOTS]))
    run_in_transaction(lambda: dispatch.withdraw(task_id, first[0]))
    run_in_transaction(lambda: dispatch.sign_up(task_id, first[SLOTS]))
    db.session.expire_all()
    assert db.session.get(VolunteerTask, task_id).taken == SLOTS
