"""The household's follow-up (回访): staff record the household's own satisfaction once per order, scoped and
audited; it, and not the provider's assessment, feeds the track record."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from socialforce.platform.extensions import db
from socialforce.platform.models import AuditLog, EvaluationSource, HouseholdFeedback, Role, User
from socialforce.platform.services import ServiceError, accounts, feedback, outcomes
from socialforce.platform.services.feedback import FeedbackInput
from socialforce.platform.services.track_record import provider_stats
from socialforce.platform.transactions import run_in_transaction
from tests import factories
from tests.platform.test_outcomes import GOOD, served_order
from tests.platform.test_visits import NOW

ASKED = FeedbackInput(satisfaction=2, channel="staff_phone", comment="  老人说社工来得太少  ")
THREADS, RUNS = 6, 5


def staff(username: str = "ts", town: str | None = "longquan") -> User:
    if town is None:
        return accounts.create_user(username, "pw-12345678", Role.city_staff, "市")
    return accounts.create_user(username, "pw-12345678", Role.town_staff, "镇街", town_id=factories.town(town).id)


def completed_order():
    """A served order whose provider has recorded its outcome (assessment 5)."""
    order, user = served_order()
    outcomes.record_outcome(order, EvaluationSource.provider, GOOD, user, NOW)
    return order


def count() -> int:
    return db.session.scalar(sa.select(sa.func.count(HouseholdFeedback.id)))


def test_the_households_satisfaction_is_recorded_once_with_who_when_and_how():
    order, clerk = completed_order(), staff()
    recorded = feedback.record_feedback(order, ASKED, clerk, NOW + timedelta(days=3))
    assert (recorded.satisfaction, recorded.channel, recorded.comment, recorded.recorded_by_id,
            recorded.recorded_at) == (2, "staff_phone", "老人说社工来得太少", clerk.id, NOW + timedelta(days=3))
    trail = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "household_feedback")).all()
    assert [(a.user_id, a.object_id, a.detail) for a in trail] == [
        (clerk.id, order.id, {"satisfaction": 2, "channel": "staff_phone"})]
    with pytest.raises(ServiceError, match="已记录"):
        feedback.record_feedback(order, FeedbackInput(5, "assistant_visit"), clerk, NOW)
    assert count() == 1 and feedback.feedback_of(order).satisfaction == 2


def test_the_household_is_asked_only_after_the_provider_completed():
    order, _ = served_order()  # still in service
    with pytest.raises(ServiceError):
        feedback.record_feedback(order, ASKED, staff(), NOW)
    assert count() == 0


@pytest.mark.parametrize("bad", [
    FeedbackInput(satisfaction=None, channel="staff_phone"),  # nothing pre-selected, nothing assumed
    FeedbackInput(satisfaction=0, channel="staff_phone"),
    FeedbackInput(satisfaction=6, channel="staff_phone"),
    FeedbackInput(satisfaction=4, channel=""),
    FeedbackInput(satisfaction=4, channel="provider"),  # the provider cannot be the household's voice
    FeedbackInput(satisfaction=4, channel="staff_visit", comment="很" * 501),
])
def test_bad_input_is_refused_and_writes_nothing(bad):
    order = completed_order()
    with pytest.raises(ServiceError) as refused:
        feedback.record_feedback(order, bad, staff(), NOW)
    assert refused.value.status == 400 and count() == 0
    assert db.session.scalar(sa.select(sa.func.count(AuditLog.id)).where(AuditLog.action == "household_feedback")) == 0


def test_only_the_households_rating_counts_in_the_track_record():
    order = completed_order()  # the provider assessed itself 5
    pid = order.provider_id
    assert provider_stats([pid])[pid].mean_satisfaction is None
    feedback.record_feedback(order, ASKED, staff(), NOW)
    record = provider_stats([pid])[pid]
    assert (record.completed, record.satisfaction_sum, record.satisfaction_count) == (1, 2, 1)


def test_orders_awaiting_follow_up_are_scoped_and_leave_the_list_once_asked():
    here, there = completed_order(), completed_order()
    there.item.household.town_id = factories.town("jinghe").id
    _, still_in_service = served_order()
    town, city = staff("town"), staff("city", town=None)
    db.session.flush()

    def waiting(user: User) -> list[int]:
        return [o.id for o in db.session.scalars(feedback.awaiting_feedback(user))]

    assert waiting(town) == [here.id] and waiting(city) == [here.id, there.id]
    feedback.record_feedback(here, ASKED, town, NOW)
    assert waiting(town) == [] and waiting(city) == [there.id]
    assert still_in_service  # an order in service is not waiting yet


def race(app, order_id: int, actor_ids: list[int]) -> tuple[list[str], list[BaseException]]:
    """Record a follow-up of one order from several staff at once; each outcome is 'won' or 'refused'."""
    barrier = threading.Barrier(len(actor_ids))
    results: list[str] = [""] * len(actor_ids)
    errors: list[BaseException] = []

    def attempt(index: int, actor_id: int) -> None:
        with app.app_context():
            try:
                from socialforce.platform.models import Order

                actor, order = db.session.get(User, actor_id), db.session.get(Order, order_id)
                db.session.commit()  # end the read transaction before racing
                barrier.wait()
                run_in_transaction(lambda: feedback.record_feedback(
                    order, FeedbackInput(1 + index % 5, "staff_phone"), actor, NOW))
                results[index] = "won"
            except ServiceError:
                results[index] = "refused"
            except BaseException as e:  # noqa: BLE001 - collected and asserted below
                errors.append(e)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=attempt, args=(i, a)) for i, a in enumerate(actor_ids)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results, errors


def test_of_concurrent_follow_ups_of_one_order_exactly_one_wins(app):
    actors = [staff(f"clerk{n}").id for n in range(THREADS)]
    for run in range(RUNS):
        order_id = completed_order().id
        db.session.commit()
        results, errors = race(app, order_id, actors)
        assert errors == [], f"run {run}: {errors[:3]}"
        assert sorted(results) == ["refused"] * (THREADS - 1) + ["won"], f"run {run}"
        assert db.session.scalar(sa.select(sa.func.count(HouseholdFeedback.id))
                                 .where(HouseholdFeedback.order_id == order_id)) == 1
        assert db.session.scalar(sa.select(sa.func.count(AuditLog.id)).where(
            AuditLog.action == "household_feedback", AuditLog.object_id == order_id)) == 1
