"""Notifications: inbox + outbox rows, delivery with retry/backoff/failed, nothing lost, senders, read state."""
from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from socialforce.platform import crypto
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    AuditLog,
    Notification,
    OutboxMessage,
    OutboxStatus,
    ProviderKind,
    Role,
    User,
    utcnow,
)
from socialforce.platform.services import ServiceError, accounts, notification_prefs, notifications
from socialforce.platform.services.notification_prefs import SettingsInput
from socialforce.platform.services.notifications import (
    EmailSender,
    PermanentDeliveryError,
    SmsSender,
    deliver_pending,
    notify,
)
from tests import factories
from tests.channel_stubs import APP_KEY, APP_SECRET, GatewayStub, SmtpStub

NOW = datetime(2026, 11, 29, 2, 0, 0)


@pytest.fixture(autouse=True)
def _logger_enabled():
    """Alembic's fileConfig (run by the app fixture's upgrade) disables loggers created before it; undo that."""
    logging.getLogger("socialforce.notifications").disabled = False


def user(role: Role = Role.city_staff, town_code: str | None = None, provider_id: int | None = None,
         locale: str | None = None) -> User:
    n = len(db.session.scalars(sa.select(User.id)).all()) + 1
    town_id = factories.town(town_code).id if town_code else None
    u = accounts.create_user(f"user{n}", "pw-123456", role, f"用户{n}", town_id=town_id, provider_id=provider_id)
    u.locale = locale
    db.session.flush()
    return u


class FakeSender:
    """Records sends; raises `error` for the first `failures` calls."""

    def __init__(self, failures: int = 0, error: Exception | None = None):
        self.failures, self.error, self.sent = failures, error or ConnectionError("gateway down"), []

    def send(self, recipient, subject, body):
        if self.failures:
            self.failures -= 1
            raise self.error
        self.sent.append((recipient.id, subject, body))


def outbox() -> list[OutboxMessage]:
    db.session.expire_all()
    return db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)).all()


# --- notify ---------------------------------------------------------------------------------------------------


def test_notify_creates_one_inbox_row_per_user_and_one_outbox_row_per_channel_chosen(app, monkeypatch):
    monkeypatch.setitem(app.config, "NOTIFY_CHANNELS", ["log", "email", "sms"])
    a, b, c = user(), user(), user()
    notification_prefs.save(a, SettingsInput(email_kinds=("order_expired",), sms_kinds=("order_expired",)))
    notification_prefs.save(b, SettingsInput(email_kinds=("order_declined",)))  # another kind only
    notes = notify([a.id, b.id, c.id, a.id], "order_expired", {"order_id": 5}, "/orders/5")
    assert sorted(n.user_id for n in notes) == [a.id, b.id, c.id]
    assert all(n.read_at is None and n.link == "/orders/5" and n.params == {"order_id": 5} for n in notes)
    by_user = {n.id: n.user_id for n in notes}
    rows = outbox()
    assert sorted((by_user[m.notification_id], m.channel) for m in rows) == sorted(
        [(a.id, "email"), (a.id, "log"), (a.id, "sms"), (b.id, "log"), (c.id, "log")])
    assert all(m.status == OutboxStatus.pending and m.attempts == 0 for m in rows)
    assert len({m.idempotency_key for m in rows}) == len(rows) and all(len(m.idempotency_key) == 32 for m in rows)


def test_an_opt_in_channel_the_deployment_does_not_offer_gets_nothing(app, monkeypatch):
    monkeypatch.setitem(app.config, "NOTIFY_CHANNELS", ["log"])
    a = user()
    notification_prefs.save(a, SettingsInput(email_kinds=("order_expired",)))
    notify([a.id], "order_expired", {"order_id": 5})
    assert [m.channel for m in outbox()] == ["log"]


@pytest.mark.parametrize("params", [
    {"phone": "13800000000"}, {"head_name": "张三"}, {"address": "x"}, {"note": "370481195003011234"},
    {"order_id": [1, 2]}, {"text": "x" * 61},
])
def test_notify_refuses_personal_data_in_params(params):
    u = user()
    with pytest.raises(ValueError):
        notify([u.id], "order_expired", params)
    assert db.session.scalar(sa.select(sa.func.count(Notification.id))) == 0


def test_notify_refuses_bad_kinds_and_external_links():
    u = user()
    with pytest.raises(ValueError):
        notify([u.id], "Order Expired!", {})
    with pytest.raises(ValueError):
        notify([u.id], "order_expired", {"order_id": 1}, "https://evil.example/")


def test_town_staff_are_notified_and_city_staff_when_the_town_has_none():
    city = user(Role.city_staff)
    longquan = user(Role.town_staff, "longquan")
    user(Role.town_staff, "jinghe")
    notes = notifications.notify_town_staff(factories.town("longquan").id, "order_escalated",
                                            {"item_id": 1, "failures": 3, "category": "daily_care"})
    assert [n.user_id for n in notes] == [longquan.id]
    town_ids = db.session.scalars(sa.select(User.town_id).where(User.town_id.is_not(None))).all()
    empty_town = next(t for t in range(1, 30) if t not in town_ids)
    notes = notifications.notify_town_staff(empty_town, "order_escalated",
                                            {"item_id": 2, "failures": 3, "category": "daily_care"})
    assert [n.user_id for n in notes] == [city.id]


def test_a_provider_is_notified_through_its_active_users():
    agency = factories.provider(ProviderKind.agency)
    admin = user(Role.agency_admin, provider_id=agency.id)
    gone = user(Role.agency_admin, provider_id=agency.id)
    gone.active = False
    user(Role.agency_admin, provider_id=factories.provider(ProviderKind.agency).id)
    notes = notifications.notify_provider(agency.id, "order_dispatched",
                                          {"order_id": 9, "category": "daily_care", "town": "longquan"})
    assert [n.user_id for n in notes] == [admin.id]


# --- rendering ------------------------------------------------------------------------------------------------


def test_messages_render_in_the_recipients_language_with_names_for_codes():
    zh, en = user(), user(locale="en")
    params = {"order_id": 12, "category": "daily_care", "town": "longquan"}
    note_zh, note_en = notify([zh.id, en.id], "order_dispatched", params)
    category, town = factories.category("daily_care"), factories.town("longquan")
    _, body_zh = notifications.compose(note_zh, zh)
    _, body_en = notifications.compose(note_en, en)
    assert category.name_zh in body_zh and town.name_zh in body_zh and "12" in body_zh
    assert body_en.startswith(f"New order #12: {category.name_en} in {town.name_en}")


def test_unknown_kinds_and_mismatched_params_fall_back_to_a_generic_text():
    u = user(locale="en")
    odd, broken = notify([u.id], "something_new", {}) + notify([u.id], "order_dispatched", {"order_id": 1})
    assert notifications.render(odd, "en") == "You have a new notification (something_new)"
    assert notifications.render(broken, "en") == "You have a new notification (order_dispatched)"


# --- delivery -------------------------------------------------------------------------------------------------


def test_deliver_pending_sends_due_messages_once(caplog):
    u = user()
    notify([u.id], "order_expired", {"order_id": 3})
    db.session.commit()
    with caplog.at_level(logging.INFO, logger="socialforce.notifications"):
        assert deliver_pending(NOW + timedelta(days=400)) == {"sent": 1, "retry": 0, "failed": 0, "skipped": 0,
                                                              "dropped": 0, "deferred": 0, "digests": 0}
        assert deliver_pending(NOW + timedelta(days=400))["sent"] == 0
    assert [m.status for m in outbox()] == [OutboxStatus.sent]
    lines = [r.getMessage() for r in caplog.records if "notification for user" in r.getMessage()]
    assert len(lines) == 1 and f"user {u.id}:" in lines[0] and u.username not in lines[0]


def test_failures_back_off_exponentially_then_mark_failed_and_keep_the_message(app, monkeypatch):
    monkeypatch.setitem(app.config, "NOTIFY_MAX_ATTEMPTS", 4)
    monkeypatch.setitem(app.config, "NOTIFY_BACKOFF_SECONDS", 60)
    u = user()
    notify([u.id], "order_expired", {"order_id": 3})
    db.session.commit()
    start = outbox()[0].next_attempt_at
    sender = FakeSender(failures=99)
    now = start
    waits = []
    for attempt in range(1, 5):
        result = deliver_pending(now, {"log": sender})
        message = outbox()[0]
        assert message.attempts == attempt and "ConnectionError: gateway down" in message.last_error
        if attempt < 4:
            assert result["retry"] == 1 and message.status == OutboxStatus.pending
            waits.append((message.next_attempt_at - now).total_seconds())
            assert not any(deliver_pending(message.next_attempt_at - timedelta(seconds=1), {"log": sender})
                           .values())  # not due yet
            now = message.next_attempt_at
        else:
            assert result["failed"] == 1 and message.status == OutboxStatus.failed
    assert waits == [60, 120, 240]
    assert deliver_pending(now + timedelta(days=1), {"log": sender})["failed"] == 0  # failed is not retried
    failed = db.session.scalars(notifications.failed_messages()).all()
    assert [m.id for m in failed] == [message.id]
    assert db.session.get(Notification, message.notification_id).read_at is None  # still in the inbox

    city = user()
    notifications.retry_failed(message.id, city, now=now)
    db.session.commit()
    assert deliver_pending(now, {"log": FakeSender()})["sent"] == 1
    assert outbox()[0].status == OutboxStatus.sent
    assert db.session.scalar(sa.select(AuditLog.action).where(AuditLog.object_id == message.id)) == "outbox_retry"
    with pytest.raises(ServiceError):
        notifications.retry_failed(message.id, city)


def test_a_permanent_error_dead_letters_at_once():
    u = user()
    notify([u.id], "order_expired", {"order_id": 3})
    db.session.commit()
    result = deliver_pending(NOW + timedelta(days=400), {"log": FakeSender(1, PermanentDeliveryError("refused"))})
    assert result["failed"] == 1 and outbox()[0].attempts == 1 and outbox()[0].status == OutboxStatus.failed


def test_an_unconfigured_channel_is_retried_not_dropped(app, monkeypatch):
    monkeypatch.setitem(app.config, "NOTIFY_CHANNELS", ["sms"])
    u = user()
    notification_prefs.save(u, SettingsInput(sms_kinds=("order_expired",)))
    notify([u.id], "order_expired", {"order_id": 3})
    db.session.commit()
    assert deliver_pending(NOW + timedelta(days=400))["retry"] == 1
    message = outbox()[0]
    assert message.status == OutboxStatus.pending and "not configured" in message.last_error


def test_a_crash_mid_send_leaves_the_message_pending_for_a_retry():
    u = user()
    notify([u.id], "order_expired", {"order_id": 3})
    db.session.commit()
    now = NOW + timedelta(days=400)
    with pytest.raises(SystemExit):  # the process dies inside the sender
        deliver_pending(now, {"log": FakeSender(1, SystemExit(1))})
    db.session.rollback()
    message = outbox()[0]
    assert message.status == OutboxStatus.pending and message.attempts == 1 and message.next_attempt_at > now
    assert deliver_pending(now, {"log": FakeSender()})["sent"] == 0  # not before the backoff
    assert deliver_pending(message.next_attempt_at, {"log": FakeSender()})["sent"] == 1


# --- channels against real local servers: SMTP (aiosmtpd) and a signed-template SMS gateway ------------------

TEMPLATES = {"text": "SMS_100", "order_expired": "SMS_201", "order_dispatched": "SMS_202"}
PHONE = "13900000001"


@pytest.fixture
def smtp():
    stub = SmtpStub().start()
    yield stub
    stub.stop()


@pytest.fixture
def gateway():
    stub = GatewayStub().start()
    yield stub
    stub.stop()


def reachable(role: Role = Role.city_staff, locale: str | None = "en", kinds=("order_expired",), **kwargs) -> User:
    """A user with a verified e-mail address and phone who chose e-mail and SMS for `kinds`."""
    u = user(role, locale=locale, **kwargs)
    u.email, u.email_verified_at = f"{u.username}@example.org", NOW
    u.phone_enc, u.phone_masked, u.phone_verified_at = crypto.encrypt(PHONE), "139****0001", NOW
    notification_prefs.save(u, SettingsInput(email_kinds=kinds, sms_kinds=kinds))
    db.session.flush()
    return u


def channels(smtp: SmtpStub | None = None, gateway: GatewayStub | None = None, timeout: float = 5.0) -> dict:
    senders = {"log": notifications.LogSender()}
    if smtp is not None:
        senders["email"] = EmailSender("127.0.0.1", smtp.port, "noreply@socialforce.local", timeout=timeout)
    if gateway is not None:
        senders["sms"] = SmsSender(gateway.url, APP_KEY, APP_SECRET, "滕州民政", TEMPLATES, timeout=timeout)
    return senders


@pytest.fixture
def all_channels(app, monkeypatch):
    monkeypatch.setitem(app.config, "NOTIFY_CHANNELS", ["log", "email", "sms"])


def message_of(channel: str) -> OutboxMessage:
    return next(m for m in outbox() if m.channel == channel)


def test_a_notice_reaches_the_smtp_server_and_the_gateway_with_its_template(all_channels, smtp, gateway):
    u = reachable(Role.agency_admin, kinds=("order_dispatched",),
                  provider_id=factories.provider(ProviderKind.agency).id)
    notify([u.id], "order_dispatched", {"order_id": 12, "category": "daily_care", "town": "longquan"}, "/agency/o/12")
    db.session.commit()
    result = deliver_pending(NOW + timedelta(days=400), channels(smtp, gateway))
    assert result["sent"] == 3 and result["failed"] == result["retry"] == 0
    category, town = factories.category("daily_care"), factories.town("longquan")

    (mail,) = smtp.received
    assert mail["To"] == u.email and mail["Subject"] == "Socialforce notification"
    assert mail["Message-ID"].strip() == f"<{message_of('email').idempotency_key}@socialforce.local>"
    assert mail.get_content().replace("\r\n", "\n").strip() == f"New order #12: {category.name_en} in {town.name_en}\n/agency/o/12"

    (sms,) = gateway.requests
    assert sms == {"phone": PHONE, "sign_name": "滕州民政", "template_code": "SMS_202",
                   "out_id": message_of("sms").idempotency_key,
                   "template_params": {"order_id": "12", "category": category.name_en[:35],
                                       "town": town.name_en[:35]}}
    assert gateway.refused == 0 and all(m.status == OutboxStatus.sent and m.sent_at for m in outbox())


EVERY_PARAM = {"order_id": 12, "item_id": 34, "task_id": 56, "visit_id": 78, "provider_id": 90, "attempt": 2,
               "failures": 3, "open": 1, "slots": 4, "category": "daily_care", "town": "longquan",
               "when": "2026-11-30T02:00"}


def test_every_kind_of_notice_reaches_the_smtp_server_and_the_gateway(all_channels, smtp, gateway):
    kinds = sorted(notifications.MESSAGES)
    people = {}
    for kind in kinds:  # one recipient per kind (Chinese, the default), so no digest gathers them
        u = reachable(locale=None)
        row = notification_prefs.settings_of(u.id)
        row.email_kinds = row.sms_kinds = [kind]
        people[kind] = u
        notify([u.id], kind, EVERY_PARAM, "/inbox/")
    db.session.commit()
    result = deliver_pending(NOW + timedelta(days=400), channels(smtp, gateway))
    assert result["sent"] == 3 * len(kinds) and result["failed"] == result["retry"] == result["digests"] == 0

    mails = {mail["To"]: mail.get_content().replace("\r\n", "\n").strip() for mail in smtp.received}
    keys = {(m.notification_id, m.channel): m.idempotency_key for m in outbox()}
    sms = {request["out_id"]: request for request in gateway.requests}
    assert len(mails) == len(sms) == len(kinds) and gateway.refused == 0
    for kind, u in people.items():
        note = db.session.scalar(sa.select(Notification).where(Notification.user_id == u.id))
        text = notifications.render(note, "zh_CN")
        assert "%(" not in text and kind not in text, kind  # its own Chinese text (not the fallback naming the kind)
        assert mails[u.email] == f"{text}\n/inbox/", kind
        request = sms[keys[(note.id, "sms")]]
        assert request["phone"] == PHONE and request["sign_name"] == "滕州民政", kind
        if kind in TEMPLATES:
            assert request["template_code"] == TEMPLATES[kind], kind
            assert request["template_params"]["order_id"] == "12", kind
        else:
            assert request == {**request, "template_code": "SMS_100", "template_params": {"text": f"{text}\n/inbox/"}}


def test_every_kind_has_a_text_a_settings_label_and_a_role_that_may_choose_its_channels():
    chosen_by_some_role = set().union(*notification_prefs.ROLE_KINDS.values())
    assert set(notifications.MESSAGES) == set(notification_prefs.KIND_LABELS) == chosen_by_some_role


def test_free_text_goes_through_the_text_template_and_the_address_hooks_still_work(gateway, smtp):
    u = user()
    SmsSender(gateway.url, APP_KEY, APP_SECRET, "滕州民政", TEMPLATES, phone_of=lambda _u: "13700000007").send(
        u, "Verification", "Your code is 314159")
    (sms,) = gateway.requests
    assert sms["phone"] == "13700000007" and sms["template_code"] == "SMS_100"
    assert sms["template_params"] == {"text": "Your code is 314159"}
    EmailSender("127.0.0.1", smtp.port, "noreply@x.org", address_of=lambda _u: "code@example.org").send(
        u, "Verification", "Your code is 314159")
    (mail,) = smtp.received
    assert mail["To"] == "code@example.org" and mail["Message-ID"].strip().endswith("@x.org>")


def test_the_smtp_server_deferring_is_retried_and_refusing_is_dead_lettered(app, monkeypatch, smtp):
    monkeypatch.setitem(app.config, "NOTIFY_CHANNELS", ["email"])
    u = reachable()
    notify([u.id], "order_expired", {"order_id": 3})
    db.session.commit()
    smtp.script = ["451 4.3.0 try again later"]
    now = NOW + timedelta(days=400)
    assert deliver_pending(now, channels(smtp))["retry"] == 1
    assert "451" in message_of("email").last_error
    assert deliver_pending(message_of("email").next_attempt_at, channels(smtp))["sent"] == 1
    assert len(smtp.received) == 1
    notify([u.id], "order_expired", {"order_id": 4})
    db.session.commit()
    smtp.script = ["550 5.1.1 mailbox unavailable"]
    assert deliver_pending(now + timedelta(days=1), channels(smtp))["failed"] == 1


def test_the_gateway_refuses_a_wrong_signature_and_the_message_is_dead_lettered(all_channels, gateway):
    u = reachable()
    notify([u.id], "order_expired", {"order_id": 3})
    db.session.commit()
    forged = SmsSender(gateway.url, APP_KEY, "not-the-secret", "滕州民政", TEMPLATES)
    assert deliver_pending(NOW + timedelta(days=400), {"log": FakeSender(), "sms": forged})["failed"] == 1
    assert gateway.refused == 1 and gateway.accepted == {}
    message = message_of("sms")
    assert message.status == OutboxStatus.failed and "401" in message.last_error
    assert [m.id for m in db.session.scalars(notifications.failed_messages())] == [message.id]


def test_gateway_5xx_timeouts_and_rate_limits_are_retried_with_backoff_then_delivered(app, monkeypatch, gateway):
    monkeypatch.setitem(app.config, "NOTIFY_CHANNELS", ["sms"])
    u = reachable()
    notify([u.id], "order_expired", {"order_id": 3})
    db.session.commit()
    gateway.script = ["500", "timeout", "isv.BUSINESS_LIMIT_CONTROL", "ok"]
    senders = channels(gateway=gateway, timeout=0.5)
    now, errors, waits = NOW + timedelta(days=400), [], []
    for _ in range(3):
        assert deliver_pending(now, senders)["retry"] == 1
        message = message_of("sms")
        errors.append(message.last_error)
        waits.append((message.next_attempt_at - now).total_seconds())
        assert deliver_pending(message.next_attempt_at - timedelta(seconds=1), senders)["sent"] == 0
        now = message.next_attempt_at
    assert "500" in errors[0] and "unreachable" in errors[1] and "BUSINESS_LIMIT_CONTROL" in errors[2]
    assert waits == [60, 120, 240]
    assert deliver_pending(now, senders)["sent"] == 1
    assert len(gateway.requests) == 4 and list(gateway.accepted) == [message_of("sms").idempotency_key]
    assert {r["out_id"] for r in gateway.requests} == {message_of("sms").idempotency_key}  # one key, every try


def test_a_business_error_that_retrying_cannot_fix_is_dead_lettered(app, monkeypatch, gateway):
    monkeypatch.setitem(app.config, "NOTIFY_CHANNELS", ["sms"])
    u = reachable()
    notify([u.id], "order_expired", {"order_id": 3})
    db.session.commit()
    gateway.script = ["isv.MOBILE_NUMBER_ILLEGAL"]
    assert deliver_pending(NOW + timedelta(days=400), channels(gateway=gateway))["failed"] == 1
    assert "MOBILE_NUMBER_ILLEGAL" in message_of("sms").last_error and message_of("sms").status == OutboxStatus.failed


def test_a_notice_never_waits_for_the_channels(all_channels, gateway, smtp):
    """notify only writes rows in the caller's transaction; the gateway is called by the delivery job alone."""
    gateway.script = ["timeout"] * 5
    u = reachable()
    notify([u.id], "order_expired", {"order_id": 3})
    db.session.commit()
    assert gateway.requests == [] and smtp.received == []
    assert {m.status for m in outbox()} == {OutboxStatus.pending}


def test_an_unverified_address_gets_nothing_and_the_message_is_dropped_with_a_record(all_channels, smtp, gateway):
    u = reachable()
    u.email_verified_at = None
    u.phone_verified_at = None  # a city staff user has no member or volunteer record to fall back on
    db.session.flush()
    notify([u.id], "order_expired", {"order_id": 3})
    db.session.commit()
    result = deliver_pending(NOW + timedelta(days=400), channels(smtp, gateway))
    assert result["dropped"] == 2 and result["sent"] == 1  # the log
    assert smtp.received == [] and gateway.requests == []
    assert message_of("email").status == OutboxStatus.dropped and "verified e-mail" in message_of("email").last_error
    assert message_of("sms").status == OutboxStatus.dropped and "verified mobile" in message_of("sms").last_error
    assert db.session.scalars(notifications.failed_messages()).all() == []  # nothing for staff to retry


def test_a_notice_to_a_deactivated_user_is_dropped_with_a_record(all_channels, smtp, gateway):
    gone, leaving = reachable(), reachable()
    gone.active = False
    db.session.flush()
    notify([gone.id], "order_expired", {"order_id": 3})
    assert {(m.status, m.last_error) for m in outbox()} == {(OutboxStatus.dropped, "recipient deactivated")}
    notify([leaving.id], "order_expired", {"order_id": 4})
    leaving.active = False  # deactivated before the delivery job ran
    db.session.commit()
    result = deliver_pending(NOW + timedelta(days=400), channels(smtp, gateway))
    assert result["dropped"] == 3 and result["sent"] == 0
    assert {m.status for m in outbox()} == {OutboxStatus.dropped} and smtp.received == gateway.requests == []
    assert notifications.unread_count(leaving.id) == 1  # the inbox keeps it


def test_quiet_hours_hold_email_and_sms_until_they_end_except_urgent_notices(all_channels, smtp, gateway):
    u = reachable(kinds=("order_expired", "order_escalated"))
    notification_prefs.save(u, SettingsInput(email_kinds=("order_expired", "order_escalated"),
                                             quiet_start="22:00", quiet_end="07:00"))
    notify([u.id], "order_expired", {"order_id": 3})
    notify([u.id], "order_escalated", {"item_id": 4, "failures": 3, "category": "daily_care"})
    db.session.commit()
    late_evening = datetime(2027, 1, 5, 15, 30)  # 23:30 in Tengzhou
    senders = channels(smtp, gateway)
    result = deliver_pending(late_evening, senders)
    assert result["deferred"] == 1 and result["sent"] == 3  # the urgent e-mail and both log lines
    assert [m["Subject"] for m in smtp.received] == ["Socialforce notification"]
    assert "needs staff attention" in smtp.received[0].get_content()
    held = next(m for m in outbox() if m.channel == "email" and m.status == OutboxStatus.pending)
    assert held.next_attempt_at == datetime(2027, 1, 5, 23, 0) and held.attempts == 0  # 07:00 local
    assert deliver_pending(datetime(2027, 1, 5, 22, 59), senders)["sent"] == 0
    assert deliver_pending(datetime(2027, 1, 5, 23, 0), senders)["sent"] == 1
    assert "expired without an answer" in smtp.received[1].get_content()


@pytest.mark.parametrize(("start", "end", "local", "quiet"), [
    (22 * 60, 7 * 60, (23, 59), True), (22 * 60, 7 * 60, (6, 59), True), (22 * 60, 7 * 60, (7, 0), False),
    (22 * 60, 7 * 60, (21, 59), False), (12 * 60, 14 * 60, (13, 0), True), (12 * 60, 14 * 60, (14, 0), False),
])
def test_the_quiet_window_may_span_midnight(start, end, local, quiet):
    assert notification_prefs.in_window(local[0] * 60 + local[1], start, end) is quiet


def test_many_notices_due_together_go_out_as_one_digest_per_channel(all_channels, smtp, gateway):
    u = reachable()
    for order_id in range(1, 8):
        notify([u.id], "order_expired", {"order_id": order_id})
    db.session.commit()
    result = deliver_pending(NOW + timedelta(days=400), channels(smtp, gateway))
    assert result["digests"] == 2 and result["sent"] == 21  # 7 e-mails and 7 SMS in two digests, 7 log lines
    (mail,) = smtp.received
    assert mail["Subject"] == "7 new Socialforce notifications"
    assert all(f"Order #{i} expired without an answer" in mail.get_content() for i in range(1, 8))
    (sms,) = gateway.requests
    assert sms["template_code"] == "SMS_100"
    assert sms["template_params"] == {"text": "7 new Socialforce notifications. Please open your inbox."}
    emails = [m for m in outbox() if m.channel == "email"]
    assert len({m.digest_key for m in emails}) == 1 and mail["Message-ID"].strip().startswith(f"<{emails[0].digest_key}@")


def test_a_few_notices_go_out_one_by_one(all_channels, smtp, gateway):
    u = reachable()
    for order_id in range(1, 6):
        notify([u.id], "order_expired", {"order_id": order_id})
    db.session.commit()
    result = deliver_pending(NOW + timedelta(days=400), channels(smtp, gateway))
    assert result["digests"] == 0 and len(smtp.received) == 5 and len(gateway.accepted) == 5


def test_the_settings_keep_only_the_kinds_a_role_receives_and_a_whole_quiet_window():
    u = user(Role.volunteer, provider_id=factories.volunteer().provider_id)
    with pytest.raises(ServiceError):
        notification_prefs.save(u, SettingsInput(email_kinds=("order_escalated",)))  # a staff notice
    for start, end, field in (("22:00", "", "quiet_end"), ("25:00", "07:00", "quiet_start"),
                              ("07:00", "07:00", "quiet_end")):
        with pytest.raises(ServiceError) as refused:
            notification_prefs.save(u, SettingsInput(quiet_start=start, quiet_end=end))
        assert refused.value.field == field
    assert notification_prefs.settings_of(u.id) is None
    row = notification_prefs.save(u, SettingsInput(sms_kinds=("task_published",), quiet_start="21:30",
                                                    quiet_end="06:45"))
    assert (row.sms_kinds, row.email_kinds, row.quiet_start, row.quiet_end) == (["task_published"], [], 1290, 405)


# --- a crash of the sender process: nothing lost, nothing accepted twice -------------------------------------


def _sender_process(env: dict, now: datetime) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "socialforce", "run-job", "deliver_notifications", "--now",
         now.isoformat(timespec="seconds")], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _kill_when_held(process: subprocess.Popen, stub) -> None:
    assert stub.hold.reached.wait(90), process.communicate(timeout=30)[0].decode()[-2000:]
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    process.stdout.close()
    stub.hold.release.set()


@pytest.mark.slow
def test_kill_9_of_the_sender_mid_batch_delivers_every_message_exactly_once(app, monkeypatch, smtp, gateway):
    monkeypatch.setitem(app.config, "NOTIFY_CHANNELS", ["email", "sms"])
    users = [reachable() for _ in range(8)]
    for number, u in enumerate(users):
        notify([u.id], "order_expired", {"order_id": number})
    db.session.commit()
    keys = {channel: {m.idempotency_key for m in outbox() if m.channel == channel} for channel in ("email", "sms")}
    env = {**os.environ, "SOCIALFORCE_ENV": "testing", "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
           "NOTIFY_CHANNELS": "email,sms", "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port),
           "SMTP_FROM": "noreply@socialforce.local", "SMS_GATEWAY_URL": gateway.url, "SMS_APP_KEY": APP_KEY,
           "SMS_APP_SECRET": APP_SECRET, "SMS_SIGN_NAME": "滕州民政", "SMS_TEMPLATES": json.dumps(TEMPLATES)}
    start = utcnow() + timedelta(minutes=1)

    smtp.hold.arm(3)  # killed after the SMTP server took the 3rd e-mail, before it answered 250
    _kill_when_held(_sender_process(env, start), smtp)
    gateway.hold.arm(5)  # killed after the gateway accepted the 5th SMS, before it answered
    _kill_when_held(_sender_process(env, start + timedelta(minutes=5)), gateway)
    finish = _sender_process(env, start + timedelta(minutes=10))
    output = finish.communicate(timeout=120)[0].decode()
    assert finish.returncode == 0, output[-2000:]

    ids = {m["Message-ID"].strip().strip("<>").split("@")[0] for m in smtp.received}
    assert ids == keys["email"] and set(smtp.mailbox) == {f"<{k}@socialforce.local>" for k in keys["email"]}
    assert len(smtp.received) == 9  # 8 e-mails; the one in the window went again under its Message-ID
    assert set(gateway.accepted) == keys["sms"]  # each SMS accepted exactly once
    assert len(gateway.requests) == 9 and gateway.refused == 0  # the copy was recognised by its key
    rows = outbox()
    assert {m.status for m in rows} == {OutboxStatus.sent}
    assert sorted(m.attempts for m in rows) == [1] * 14 + [2, 2]  # the two messages caught in the window

# --- read state -----------------------------------------------------------------------------------------------


def test_unread_count_mark_read_and_mark_all_read():
    a, b = user(), user()
    first, _second = (notify([a.id], "order_expired", {"order_id": i})[0] for i in (1, 2))
    other = notify([b.id], "order_expired", {"order_id": 3})[0]
    assert notifications.unread_count(a.id) == 2
    assert notifications.mark_read(a, other.id) is None  # not a's
    assert notifications.unread_count(b.id) == 1
    assert notifications.mark_read(a, first.id).read_at is not None
    assert notifications.unread_count(a.id) == 1
    assert notifications.mark_all_read(a) == 1
    assert notifications.unread_count(a.id) == 0 and notifications.unread_count(b.id) == 1
