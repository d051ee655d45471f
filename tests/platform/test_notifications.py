"""Notifications: inbox + outbox rows, delivery with retry/backoff/failed, nothing lost, senders, read state."""
from __future__ import annotations

import email
import email.policy
import json
import logging
import socketserver
import threading
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import sqlalchemy as sa

from socialforce.platform.extensions import db
from socialforce.platform.models import (
    AuditLog,
    Notification,
    OutboxMessage,
    OutboxStatus,
    ProviderKind,
    Role,
    User,
)
from socialforce.platform.services import ServiceError, accounts, notifications
from socialforce.platform.services.notifications import (
    EmailSender,
    PermanentDeliveryError,
    SmsSender,
    deliver_pending,
    notify,
)
from tests import factories

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


def test_notify_creates_one_inbox_row_per_user_and_one_outbox_row_per_channel(app, monkeypatch):
    monkeypatch.setitem(app.config, "NOTIFY_CHANNELS", ["log", "email"])
    a, b = user(), user()
    notes = notify([a.id, b.id, a.id], "order_expired", {"order_id": 5}, "/orders/5")
    assert sorted(n.user_id for n in notes) == [a.id, b.id]
    assert all(n.read_at is None and n.link == "/orders/5" and n.params == {"order_id": 5} for n in notes)
    rows = outbox()
    assert sorted((m.notification_id, m.channel) for m in rows) == sorted(
        (n.id, c) for n in notes for c in ("log", "email"))
    assert all(m.status == OutboxStatus.pending and m.attempts == 0 for m in rows)


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
        assert deliver_pending(NOW + timedelta(days=400)) == {"sent": 1, "retry": 0, "failed": 0, "skipped": 0}
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
            assert deliver_pending(message.next_attempt_at - timedelta(seconds=1), {"log": sender}) == \
                {"sent": 0, "retry": 0, "failed": 0, "skipped": 0}  # not due yet
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


def test_a_recipient_without_an_address_fails_at_once():
    u = user()
    notify([u.id], "order_expired", {"order_id": 3})
    db.session.commit()
    result = deliver_pending(NOW + timedelta(days=400), {"log": FakeSender(1, PermanentDeliveryError("no address"))})
    assert result["failed"] == 1 and outbox()[0].attempts == 1


def test_an_unconfigured_channel_is_retried_not_dropped(app, monkeypatch):
    monkeypatch.setitem(app.config, "NOTIFY_CHANNELS", ["sms"])
    u = user()
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


# --- e-mail and SMS adapters against local servers ----------------------------------------------------------


class _SMTPHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP for smtplib: EHLO, MAIL, RCPT, DATA, QUIT."""

    def handle(self):
        self.wfile.write(b"220 localhost test SMTP\r\n")
        data, lines = False, []
        while line := self.rfile.readline():
            if data:
                if line == b".\r\n":
                    data = False
                    self.server.messages.append(b"".join(lines))
                    lines = []
                    self.wfile.write(b"250 OK queued\r\n")
                else:
                    lines.append(line[1:] if line.startswith(b"..") else line)
                continue
            verb = line[:4].upper()
            if verb == b"EHLO":
                self.wfile.write(b"250-localhost\r\n250 8BITMIME\r\n")
            elif verb == b"DATA":
                data = True
                self.wfile.write(b"354 go ahead\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 OK\r\n")


@pytest.fixture
def smtp_server():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SMTPHandler)
    server.daemon_threads = True
    server.messages = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_the_email_sender_talks_smtp(smtp_server):
    u = user(locale="en")
    notify([u.id], "order_expired", {"order_id": 42}, "/orders/42")
    db.session.commit()
    port = smtp_server.server_address[1]
    sender = EmailSender("127.0.0.1", port, "noreply@socialforce.local", address_of=lambda _u: "worker@example.org")
    assert deliver_pending(NOW + timedelta(days=400), {"log": sender})["sent"] == 1
    assert len(smtp_server.messages) == 1
    received = email.message_from_bytes(smtp_server.messages[0], policy=email.policy.default)
    assert received["To"] == "worker@example.org" and received["Subject"] == "Socialforce notification"
    assert received.get_content().replace("\r\n", "\n").strip() == "Order #42 expired without an answer\n/orders/42"


def test_the_email_sender_needs_an_address():
    with pytest.raises(PermanentDeliveryError):
        EmailSender("127.0.0.1", 1, "noreply@x").send(user(), "s", "b")


class _GatewayHandler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.requests.append((self.headers.get("Authorization"), json.loads(body)))
        self.send_response(self.server.status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def sms_gateway():
    server = HTTPServer(("127.0.0.1", 0), _GatewayHandler)
    server.requests, server.status = [], 200
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_the_sms_sender_posts_json_to_the_gateway_with_the_volunteers_phone(sms_gateway):
    volunteer = factories.volunteer()
    u = user(Role.volunteer, provider_id=volunteer.provider_id, locale="en")
    notify([u.id], "volunteer_approved", {})
    db.session.commit()
    url = f"http://127.0.0.1:{sms_gateway.server_address[1]}/send"
    sender = SmsSender(url, token="t0ken")
    assert deliver_pending(NOW + timedelta(days=400), {"log": sender})["sent"] == 1
    (auth, payload), = sms_gateway.requests
    assert auth == "Bearer t0ken" and payload["to"] == "13800000000"
    assert payload["text"].endswith("Your volunteer registration was approved")

    sms_gateway.status = 500
    notify([u.id], "volunteer_approved", {})
    db.session.commit()
    assert deliver_pending(NOW + timedelta(days=400), {"log": sender})["retry"] == 1


def test_the_sms_sender_accepts_only_http_urls():
    with pytest.raises(ValueError):
        SmsSender("file:///etc/passwd")


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
