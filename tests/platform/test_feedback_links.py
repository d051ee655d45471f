"""The household's one-question satisfaction link: created when the provider completes an order of a household with
a mobile number, sent by SMS through the gateway (retried when it fails), answered once without an account, with no
personal data on the page; the answer is the household's HouseholdFeedback and so the ranker's label."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from socialforce.platform import crypto
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    AuditLog,
    EvaluationSource,
    FeedbackChannel,
    FeedbackLink,
    HouseholdFeedback,
    LinkDelivery,
    utcnow,
)
from socialforce.platform.scheduler.jobs import JOBS
from socialforce.platform.services import ServiceError, feedback, feedback_links, outcomes
from socialforce.platform.services.feedback import FeedbackInput
from socialforce.platform.services.track_record import provider_stats
from socialforce.platform.transactions import run_in_transaction
from tests.channel_stubs import APP_KEY, APP_SECRET, GatewayStub
from tests.conftest import csrf_token
from tests.platform.test_feedback import staff
from tests.platform.test_outcomes import GOOD, served_order

PHONE = "13712345678"


def completed_order(phone: str | None = PHONE):
    """A served order of a household with (or without) a mobile number, completed by its provider just now."""
    order, user = served_order()
    if phone:
        household = order.item.household
        household.phone_enc, household.phone_masked = crypto.encrypt(phone), crypto.mask_phone(phone)
    outcomes.record_outcome(order, EvaluationSource.provider, GOOD, user, utcnow())
    return order


def link_of(order) -> FeedbackLink:
    db.session.expire_all()
    return db.session.scalar(sa.select(FeedbackLink).where(FeedbackLink.order_id == order.id))


def test_completing_an_order_puts_one_link_in_the_households_outbox_only_with_a_phone():
    order = completed_order()
    link = link_of(order)
    assert link.delivery == LinkDelivery.pending and link.used_at is None
    assert link.expires_at - link.created_at == timedelta(days=14)
    assert link_of(completed_order(phone=None)) is None
    job = next(s for s in JOBS if s.id == "send_feedback_links")
    assert job.func.endswith("feedback_links:deliver_pending")


@pytest.fixture
def gateway(app, monkeypatch):
    stub = GatewayStub().start()
    for key, value in (("SMS_GATEWAY_URL", stub.url), ("SMS_APP_KEY", APP_KEY), ("SMS_APP_SECRET", APP_SECRET),
                       ("SMS_TEMPLATES", {"text": "SMS_100"})):
        monkeypatch.setitem(app.config, key, value)
    yield stub
    stub.stop()


def test_the_sms_reaches_the_households_phone_with_the_link_and_no_personal_data_and_is_retried(gateway):
    order = completed_order()
    household = order.item.household
    db.session.commit()
    gateway.script = ["500"]
    now = utcnow()
    assert feedback_links.deliver_pending(now) == {"sent": 0, "retry": 1, "failed": 0, "skipped": 0}
    assert feedback_links.deliver_pending(now) == {"sent": 0, "retry": 0, "failed": 0, "skipped": 0}  # backoff
    assert feedback_links.deliver_pending(now + timedelta(minutes=2))["sent"] == 1
    assert link_of(order).delivery == LinkDelivery.sent and link_of(order).attempts == 2
    (first, second) = (request["template_params"] | {"to": request["phone"]} for request in gateway.requests)
    assert first == second and first["to"] == PHONE
    url = feedback_links.url_for_link(link_of(order))
    assert url in first["text"] and order.item.category.name_zh in first["text"]
    for private in (household.head_name, household.address, *(m.name for m in household.members)):
        assert private not in first["text"]


def test_the_household_answers_once_without_an_account_and_the_answer_is_its_feedback(client):
    order = completed_order()
    provider_id = order.provider_id
    household = order.item.household
    private = [household.head_name, household.address, PHONE, crypto.mask_phone(PHONE),
               *(m.name for m in household.members), *(m.id_masked for m in household.members)]
    db.session.commit()
    path = f"/f/{feedback_links.token_for(link_of(order))}"
    html = client.get(path).get_data(as_text=True)
    assert "您对服务满意吗" in html and 'name="satisfaction"' in html
    assert not [p for p in private if p in html]
    token = csrf_token(client, path)
    response = client.post(path, data={"csrf_token": token, "satisfaction": "2"})
    assert response.status_code == 200 and "已收到您的回答" in response.get_data(as_text=True)
    db.session.expire_all()
    answer = feedback.feedback_of(order)
    assert (answer.satisfaction, answer.channel, answer.recorded_by_id) == (2, FeedbackChannel.household_sms, None)
    assert link_of(order).used_at is not None
    assert provider_stats([provider_id])[provider_id].satisfaction_count == 1  # track record and ranker label
    assert db.session.scalar(sa.select(AuditLog.detail).where(AuditLog.action == "household_feedback")) == {
        "satisfaction": 2, "channel": "household_sms"}
    again = client.post(path, data={"csrf_token": token, "satisfaction": "5"})
    assert "已收到您的回答" in again.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(HouseholdFeedback.id))) == 1
    assert feedback.feedback_of(order).satisfaction == 2


def test_bad_answers_tampered_and_expired_links_are_refused_and_write_nothing(client):
    order = completed_order()
    link = link_of(order)
    db.session.commit()
    path = f"/f/{feedback_links.token_for(link)}"
    token = csrf_token(client, path)
    for bad in ("0", "6", "", "abc", "99999999999999999999"):
        response = client.post(path, data={"csrf_token": token, "satisfaction": bad})
        assert response.status_code == 400 and "请选择您的满意程度" in response.get_data(as_text=True)
    tampered = client.get(path[:-2] + ("AA" if not path.endswith("AA") else "BB"))
    assert tampered.status_code == 200 and "此链接无效" in tampered.get_data(as_text=True)
    assert "此链接无效" in client.get("/f/x").get_data(as_text=True)
    link = link_of(order)
    link.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    assert "此链接已过期" in client.get(path).get_data(as_text=True)
    response = client.post(path, data={"csrf_token": token, "satisfaction": "4"})
    assert "此链接已过期" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(HouseholdFeedback.id))) == 0
    with pytest.raises(ServiceError):
        feedback_links.answer(feedback_links.token_for(link), 4, utcnow())


def test_a_staff_follow_up_first_closes_the_link_and_staff_cannot_claim_the_sms_channel():
    order = completed_order()
    clerk = staff()
    with pytest.raises(ServiceError):
        feedback.record_feedback(order, FeedbackInput(4, "household_sms"), clerk, utcnow())
    feedback.record_feedback(order, FeedbackInput(4, "staff_phone"), clerk, utcnow())
    assert feedback_links.lookup(feedback_links.token_for(link_of(order)), utcnow()).state == "answered"


def race_answers(app, token: str, n: int) -> tuple[list[int], list[int], list[BaseException]]:
    """n answers through one link, released at once: (recorded values, refused values, errors)."""
    barrier, won, refused, errors = threading.Barrier(n), [], [], []

    def answer(value: int) -> None:
        with app.app_context():
            try:
                barrier.wait()
                run_in_transaction(lambda: feedback_links.answer(token, value, utcnow()))
                won.append(value)
            except ServiceError:
                refused.append(value)
            except BaseException as e:  # noqa: BLE001 - asserted by the caller
                errors.append(e)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=answer, args=(1 + k % 5,)) for k in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return won, refused, errors


@pytest.mark.slow
def test_answers_sent_at_once_record_exactly_one(app):
    """The household taps twice or forwards the link: of 6 answers at once exactly one is recorded (10 runs)."""
    for run in range(10):
        order = completed_order()
        token = feedback_links.token_for(link_of(order))
        db.session.commit()
        won, refused, errors = race_answers(app, token, 6)
        assert (len(won), len(refused), errors) == (1, 5, []), f"run {run}"
        db.session.expire_all()
        assert feedback.feedback_of(order).satisfaction == won[0]
