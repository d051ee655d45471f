"""Withdrawing from a volunteer task: freely before the order is accepted; after, only with a reason and before the
visit starts (the place reopens, the visits are cancelled, an order event, an audit row and a notice to town staff);
never once service started. The page asks for confirmation."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from socialforce.platform.extensions import db
from socialforce.platform.models import (
    AuditLog,
    Notification,
    Order,
    OrderEvent,
    OrderState,
    Role,
    ServiceRecord,
    TaskSignup,
    Visit,
    VisitStatus,
    VolunteerTask,
    utcnow,
)
from socialforce.platform.models.orders import LIVE_TASK_STATES
from socialforce.platform.services import ServiceError, accounts, dispatch, orders, visits
from tests import factories
from tests.conftest import csrf_token, login

NOW = datetime(2024, 3, 4, 0, 0)  # Monday 08:00 in Shanghai
REASON = "临时出差，无法前往"


def town_staff():
    return accounts.create_user("town-w", "pw-12345678", Role.town_staff, "镇工作人员",
                                town_id=factories.town("longquan").id)


def task(slots: int = 2, now: datetime = NOW) -> VolunteerTask:
    order = dispatch.dispatch(factories.item(factories.household(), "daily_care", slots=slots),
                              dispatch.Choice(provider_id=None), None, now)
    return db.session.scalar(sa.select(VolunteerTask).where(VolunteerTask.order_id == order.id))


def signups(t: VolunteerTask) -> int:
    return db.session.scalar(sa.select(sa.func.count(TaskSignup.id)).where(TaskSignup.task_id == t.id))


def withdrawal_events(order_id: int) -> list[OrderEvent]:
    return list(db.session.scalars(sa.select(OrderEvent).where(OrderEvent.order_id == order_id,
                                                               OrderEvent.reason.like("volunteer withdrew%"))))


def test_before_acceptance_a_volunteer_withdraws_freely():
    t = task()
    vol = factories.volunteer()
    db.session.add(TaskSignup(task_id=t.id, volunteer_id=vol.id))  # signed up, the order not yet accepted
    t.taken = 1
    db.session.flush()
    assert dispatch.withdrawal_terms(t, vol, NOW) == dispatch.WithdrawalTerms(None, reason_needed=False)
    dispatch.withdraw(t.id, vol, None, "", NOW)
    db.session.refresh(t)
    assert (t.taken, signups(t), withdrawal_events(t.order_id)) == (0, 0, [])
    assert db.session.scalar(sa.select(AuditLog.action).where(AuditLog.action == "task_withdrawn"))


def test_after_acceptance_a_reason_is_needed_and_the_withdrawal_is_recorded_and_told():
    staff = town_staff()
    t = task(slots=1)
    vol = factories.volunteer()
    dispatch.sign_up(t.id, vol, NOW)
    assert t.order.state == OrderState.accepted
    for empty in ("", "  ", "x"):
        with pytest.raises(ServiceError) as refused:
            dispatch.withdraw(t.id, vol, None, empty, NOW)
        assert refused.value.status == 400
    db.session.refresh(t)
    assert (t.taken, signups(t)) == (1, 1)  # a refusal changes nothing
    dispatch.withdraw(t.id, vol, None, REASON, NOW)
    db.session.refresh(t)
    assert (t.taken, signups(t), t.order.state) == (0, 0, OrderState.accepted)
    [event] = withdrawal_events(t.order_id)
    assert (event.from_state, event.to_state, event.reason) == ("accepted", "accepted",
                                                                f"volunteer withdrew: {REASON}")
    log = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "task_withdrawn"))
    assert log.detail["reason"] == REASON and log.detail["order_state"] == "accepted"
    [notice] = db.session.scalars(sa.select(Notification).where(Notification.kind == "task_withdrawn"))
    assert notice.user_id == staff.id and (notice.params["open"], notice.params["slots"]) == (1, 1)
    dispatch.sign_up(t.id, factories.volunteer(), NOW)  # the place is open again
    db.session.refresh(t)
    assert t.taken == 1


def scheduled_with_visit(starts_at: datetime) -> tuple[VolunteerTask, list, list[Visit]]:
    """A two-place task, both volunteers signed up, each with a planned visit at `starts_at`."""
    t = task(slots=2)
    vols = [factories.volunteer(), factories.volunteer()]
    planned = []
    for vol in vols:
        dispatch.sign_up(t.id, vol, NOW)
        planned.append(visits.plan_visit(t.order, visits.Assignee(volunteer_id=vol.id), starts_at, 60, None, NOW))
    assert t.order.state == OrderState.scheduled
    return t, vols, planned


def test_withdrawing_before_the_visit_cancels_it_and_reopens_the_place_on_a_scheduled_task():
    t, vols, planned = scheduled_with_visit(NOW + timedelta(days=1))
    dispatch.withdraw(t.id, vols[0], None, REASON, NOW + timedelta(hours=20))
    for v in planned:
        db.session.refresh(v)
    assert (planned[0].status, planned[0].cancel_reason) == (VisitStatus.cancelled, REASON)
    assert planned[1].status == VisitStatus.planned  # the sibling's visit stays
    assert OrderState.scheduled in LIVE_TASK_STATES  # the reopened place is offered again
    dispatch.sign_up(t.id, factories.volunteer(), NOW + timedelta(hours=20))


def test_no_withdrawal_once_the_visit_started_or_service_started():
    start = NOW + timedelta(days=1)
    t, vols, planned = scheduled_with_visit(start)
    with pytest.raises(ServiceError, match="已开始") as refused:  # the visit's start time passed
        dispatch.withdraw(t.id, vols[0], None, REASON, start + timedelta(minutes=1))
    assert refused.value.status == 409
    visits.check_in(planned[1], None, start)  # the sibling's check-in: service started
    for when in (start - timedelta(minutes=30), start):
        with pytest.raises(ServiceError):
            dispatch.withdraw(t.id, vols[0], None, REASON, when)
    visits.check_in(planned[0], None, start)
    visits.check_out(planned[0], None, start + timedelta(hours=1))
    orders.transition(t.order, OrderState.completed, None, now=start + timedelta(hours=2))
    with pytest.raises(ServiceError):
        dispatch.withdraw(t.id, vols[0], None, REASON, start + timedelta(hours=3))
    db.session.refresh(t)
    assert (t.taken, signups(t)) == (2, 2)  # the sign-ups stay beside the service record
    assert db.session.scalar(sa.select(sa.func.count(ServiceRecord.id))) == 1
    assert withdrawal_events(t.order_id) == []


def test_a_cancelled_task_and_a_stranger_are_refused():
    t = task()
    vol = factories.volunteer()
    dispatch.sign_up(t.id, vol, NOW)
    with pytest.raises(ServiceError) as stranger:
        dispatch.withdraw(t.id, factories.volunteer(), None, REASON, NOW)
    assert stranger.value.status == 404
    orders.transition(t.order, OrderState.cancelled, None, reason="不再需要", now=NOW)
    with pytest.raises(ServiceError):
        dispatch.withdraw(t.id, vol, None, REASON, NOW)


# ---- the page ----------------------------------------------------------------------------------------------

@pytest.fixture
def signed_up(client):
    """A logged-in volunteer holding one place of an accepted two-place task (real clock)."""
    t = task(slots=2, now=utcnow())
    vol = factories.volunteer()
    accounts.create_user("vol-w", "pw-12345678", Role.volunteer, vol.real_name, provider_id=vol.provider_id)
    dispatch.sign_up(t.id, vol, utcnow())
    db.session.commit()
    login(client, "vol-w", "pw-12345678")
    return t


def test_the_page_asks_for_confirmation_and_a_reason(client, signed_up):
    t = signed_up
    path = f"/volunteer/tasks/{t.id}/withdraw"
    assert f'href="{path}"' in client.get("/volunteer/tasks").get_data(as_text=True)  # a link, not a POST
    page = client.get(path).get_data(as_text=True)
    assert 'name="reason"' in page and "确定退出" in page
    token = csrf_token(client, path)
    refused = client.post(path, data={"csrf_token": token, "reason": ""})
    assert refused.status_code == 400 and "请填写原因" in refused.get_data(as_text=True)
    too_long = client.post(path, data={"csrf_token": token, "reason": "长" * 201})
    assert too_long.status_code == 400
    db.session.expire_all()
    assert signups(db.session.get(VolunteerTask, t.id)) == 1
    done = client.post(path, data={"csrf_token": token, "reason": REASON})
    assert done.status_code == 303
    db.session.expire_all()
    assert signups(db.session.get(VolunteerTask, t.id)) == 0
    assert len(withdrawal_events(t.order_id)) == 1
    assert client.get(path).status_code == 302  # no longer signed up: back to the task list


def test_the_page_explains_a_refusal(client, signed_up):
    t = signed_up
    orders.transition(db.session.get(Order, t.order_id), OrderState.cancelled, None, reason="不再需要")
    db.session.commit()
    page = client.get(f"/volunteer/tasks/{t.id}/withdraw").get_data(as_text=True)
    assert 'name="reason"' not in page and "不能再退出" in page
