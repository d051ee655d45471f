"""Notifications: an in-app inbox per user plus an outbox of messages for external channels, retried until sent.

`notify` writes one Notification per recipient (the inbox; read_at NULL = unread) and one OutboxMessage per
configured external channel (NOTIFY_CHANNELS, default ["log"]). `deliver_pending` (the per-minute job) sends due
messages through the channel's Sender. Each message is first claimed with a conditional UPDATE that counts the
attempt and pushes `next_attempt_at` out by the backoff, and that claim is committed before sending: a crash
mid-send leaves the message pending and it is retried after the backoff; a sender error is kept in `last_error`;
after NOTIFY_MAX_ATTEMPTS the message is marked failed and stays in the table, listed for city staff, who can retry
it. Kinds are stable codes whose texts live in MESSAGES (one mapping used by the inbox page and every sender).
Params hold ids and category/town codes only: never names, phones, ID numbers or addresses.
"""
from __future__ import annotations

import json
import logging
import re
import smtplib
import ssl
import urllib.request
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Protocol
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app, g
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from socialforce.platform import crypto
from socialforce.platform.extensions import db
from socialforce.platform.i18n import local_time
from socialforce.platform.models import (
    Notification,
    OutboxMessage,
    OutboxStatus,
    ProviderMember,
    Role,
    ServiceCategory,
    Town,
    User,
    Volunteer,
    utcnow,
)
from socialforce.platform.services import ServiceError, audit

log = logging.getLogger("socialforce.notifications")

MESSAGES = {
    "order_dispatched": _l("New order #%(order_id)s: %(category)s in %(town)s"),
    "order_accepted": _l("Order #%(order_id)s was accepted"),
    "order_declined": _l("Order #%(order_id)s was declined"),
    "order_expired": _l("Order #%(order_id)s expired without an answer"),
    "order_cancelled": _l("Order #%(order_id)s was cancelled"),
    "order_completed": _l("Order #%(order_id)s was completed"),
    "order_escalated": _l("Service item #%(item_id)s (%(category)s) needs staff attention after "
                          "%(failures)s failed dispatches"),
    "task_published": _l("New volunteer task #%(task_id)s: %(category)s in %(town)s"),
    "task_withdrawn": _l("A volunteer withdrew from task #%(task_id)s (%(category)s, order #%(order_id)s): "
                         "%(open)s of %(slots)s places are open again"),
    "visit_scheduled": _l("Visit #%(visit_id)s is scheduled for %(when)s"),
    "visit_reminder": _l("Reminder: visit #%(visit_id)s is due at %(when)s"),
    "visit_missed": _l("Visit #%(visit_id)s was missed"),
    "volunteer_approved": _l("Your volunteer registration was approved"),
    "volunteer_rejected": _l("Your volunteer registration was not approved"),
    "volunteer_signup_id_taken": _l("A volunteer sign-up in %(town)s used the ID number of registered volunteer "
                                    "#%(provider_id)s; nothing was created. Check with the volunteer."),
    "volunteer_signup_username_taken": _l("Volunteer registration #%(provider_id)s chose a username already in "
                                          "use; tell the volunteer the login name it was given."),
    "waitlist_offer": _l("A place on task #%(task_id)s (%(category)s) is free for you: confirm it by %(when)s, or it "
                         "passes to the next volunteer on the waitlist"),
    "waitlist_offer_lapsed": _l("Your offer of a place on task #%(task_id)s lapsed; it passed to the next volunteer"),
}
FALLBACK = _l("You have a new notification (%(kind)s)")
KIND_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
PERSONAL_KEY_PARTS = ("name", "phone", "mobile", "address", "id_number", "idcard", "email")
LONG_DIGITS_RE = re.compile(r"\d{7,}")
DELIVERY_BATCH = 500


class Sender(Protocol):
    """An external channel: send one message to one user or raise."""

    def send(self, recipient: User, subject: str, body: str) -> None: ...


class PermanentDeliveryError(Exception):
    """Retrying cannot help (for example, the recipient has no address on this channel)."""


# --- creating notifications ---------------------------------------------------------------------------------


def check_params(params: dict) -> None:
    """Refuse params that could hold personal data: only short scalars, no name/phone/address/ID keys."""
    for key, value in params.items():
        lowered = key.lower()
        if any(part in lowered for part in PERSONAL_KEY_PARTS):
            raise ValueError(f"notification param {key!r} looks like personal data")
        if not isinstance(value, int | float | str | bool | type(None)):
            raise ValueError(f"notification param {key!r} must be a scalar")
        if isinstance(value, str) and (len(value) > 60 or LONG_DIGITS_RE.search(value)):
            raise ValueError(f"notification param {key!r} is too long or holds a number like a phone or ID")


def notify(user_ids: Iterable[int], kind: str, params: dict, link: str | None = None) -> list[Notification]:
    """One inbox notification per user and one outbox message per configured channel; flushes."""
    if not KIND_RE.match(kind):
        raise ValueError(f"bad notification kind {kind!r}")
    check_params(params)
    if link is not None and not link.startswith("/"):
        raise ValueError("notification links are site-relative paths")
    now = utcnow()
    notes = [Notification(user_id=user_id, kind=kind, params=dict(params), link=link, created_at=now)
             for user_id in sorted(set(user_ids))]
    db.session.add_all(notes)
    db.session.flush()
    db.session.add_all(OutboxMessage(notification_id=note.id, channel=channel, next_attempt_at=now)
                       for note in notes for channel in current_app.config["NOTIFY_CHANNELS"])
    db.session.flush()
    return notes


def notify_town_staff(town_id: int, kind: str, params: dict, link: str | None = None) -> list[Notification]:
    """Notify the active town staff of a town; if it has none, the active city staff."""
    user_ids = db.session.scalars(sa.select(User.id).where(
        User.role == Role.town_staff, User.town_id == town_id, User.active)).all()
    if not user_ids:
        user_ids = db.session.scalars(sa.select(User.id).where(User.role == Role.city_staff, User.active)).all()
    return notify(user_ids, kind, params, link)


def notify_provider(provider_id: int, kind: str, params: dict, link: str | None = None) -> list[Notification]:
    """Notify every active user of a provider (agency, pairing unit or volunteer)."""
    user_ids = db.session.scalars(sa.select(User.id).where(User.provider_id == provider_id, User.active)).all()
    return notify(user_ids, kind, params, link)


# --- rendering ------------------------------------------------------------------------------------------------


def _reference_names(model, code: str) -> tuple[str, str] | None:
    """(name_zh, name_en) of a town or service category by code, cached for the app context."""
    cache = g.setdefault("notification_names", {})
    key = (model.__tablename__, code)
    if key not in cache:
        cache[key] = db.session.execute(sa.select(model.name_zh, model.name_en).where(model.code == code)).first()
    return tuple(cache[key]) if cache[key] is not None else None


def _display_params(params: dict, locale: str) -> dict:
    """Params for display: category and town codes become names in the locale, ISO times local time."""
    values = dict(params)
    english = not locale.startswith("zh")
    for key, model in (("category", ServiceCategory), ("town", Town)):
        code = values.get(key)
        if isinstance(code, str):
            names = _reference_names(model, code)
            if names is not None:
                values[key] = names[1] if english else names[0]
    when = values.get("when")
    if isinstance(when, str):
        try:
            values["when"] = local_time(datetime.fromisoformat(when))
        except ValueError:
            pass
    return values


def render(notification: Notification, locale: str | None = None) -> str:
    """The notification's text in `locale` (default: the current one); unknown kinds get a generic text."""
    locale = locale or str(get_locale() or current_app.config["BABEL_DEFAULT_LOCALE"])
    with force_locale(locale):
        template = MESSAGES.get(notification.kind)
        try:
            if template is not None:
                return str(template) % _display_params(notification.params or {}, locale)
        except (KeyError, ValueError, TypeError):
            log.warning("notification %s: params do not fit the %s text", notification.id, notification.kind)
        return str(FALLBACK) % {"kind": notification.kind}


def compose(notification: Notification, recipient: User) -> tuple[str, str]:
    """Subject and body for an external channel, in the recipient's language (default zh_CN)."""
    locale = recipient.locale or current_app.config["BABEL_DEFAULT_LOCALE"]
    text = render(notification, locale)
    with force_locale(locale):
        subject = _("Socialforce notification")
    return subject, text + (f"\n{notification.link}" if notification.link else "")


# --- senders --------------------------------------------------------------------------------------------------


class LogSender:
    """Writes the message to the application log (the default channel)."""

    def send(self, recipient: User, subject: str, body: str) -> None:
        """Log the user id and text (texts hold no personal data)."""
        log.info("notification for user %s: %s: %s", recipient.id, subject, body.replace("\n", " "))


def email_of(user: User) -> str | None:
    """The user's e-mail address, once verified."""
    return user.email if user.email and user.email_verified_at else None


def phone_of(user: User) -> str | None:
    """The user's mobile number: their own once verified, else the worker's member record or the volunteer's registration."""
    token = None
    if user.phone_enc and user.phone_verified_at:
        token = user.phone_enc
    elif user.member_id is not None:
        token = db.session.scalar(sa.select(ProviderMember.phone_enc).where(ProviderMember.id == user.member_id))
    elif user.role == Role.volunteer:
        token = db.session.scalar(sa.select(Volunteer.phone_enc).where(Volunteer.provider_id == user.provider_id))
    return crypto.decrypt(token) if token else None


class EmailSender:
    """Sends e-mail through an SMTP server (SMTP_HOST/PORT; optional STARTTLS and login)."""

    def __init__(self, host: str, port: int, from_address: str, user: str | None = None,
                 password: str | None = None, starttls: bool = False, timeout: float = 10.0,
                 address_of: Callable[[User], str | None] = email_of):
        self.host, self.port, self.from_address = host, port, from_address
        self.user, self.password, self.starttls, self.timeout = user, password, starttls, timeout
        self.address_of = address_of

    def send(self, recipient: User, subject: str, body: str) -> None:
        """Send one plain-text e-mail."""
        address = self.address_of(recipient)
        if not address:
            raise PermanentDeliveryError("the recipient has no e-mail address")
        message = EmailMessage()
        message["Subject"], message["From"], message["To"] = subject, self.from_address, address
        message.set_content(body)
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.user:
                smtp.login(self.user, self.password or "")
            smtp.send_message(message)


class SmsSender:
    """POSTs {"to": phone, "text": ...} as JSON to an SMS gateway (SMS_GATEWAY_URL, optional bearer token)."""

    def __init__(self, url: str, token: str | None = None, timeout: float = 10.0,
                 phone_of: Callable[[User], str | None] = phone_of):
        if urlsplit(url).scheme not in ("http", "https"):
            raise ValueError("SMS_GATEWAY_URL must be an http(s) URL")
        self.url, self.token, self.timeout, self.phone_of = url, token, timeout, phone_of

    def send(self, recipient: User, subject: str, body: str) -> None:
        """Post one text message to the gateway; a non-2xx answer raises."""
        phone = self.phone_of(recipient)
        if not phone:
            raise PermanentDeliveryError("the recipient has no mobile number")
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        payload = json.dumps({"to": phone, "text": f"{subject}: {body}"}, ensure_ascii=False).encode()
        request = urllib.request.Request(self.url, data=payload, headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=self.timeout) as response:  # nosec B310 (scheme checked in __init__)
            if not 200 <= response.status < 300:
                raise RuntimeError(f"SMS gateway answered {response.status}")


def configured_senders() -> dict[str, Sender]:
    """A Sender for each configured channel; e-mail and SMS only when their settings are present."""
    config = current_app.config
    senders: dict[str, Sender] = {"log": LogSender()}
    if config.get("SMTP_HOST"):
        senders["email"] = EmailSender(config["SMTP_HOST"], config["SMTP_PORT"], config["SMTP_FROM"],
                                       config.get("SMTP_USER"), config.get("SMTP_PASSWORD"),
                                       config.get("SMTP_STARTTLS", False))
    if config.get("SMS_GATEWAY_URL"):
        senders["sms"] = SmsSender(config["SMS_GATEWAY_URL"], config.get("SMS_GATEWAY_TOKEN"))
    return senders


# --- delivery -------------------------------------------------------------------------------------------------


def backoff(attempts: int) -> timedelta:
    """The wait after the n-th attempt: NOTIFY_BACKOFF_SECONDS doubled each time, capped."""
    config = current_app.config
    seconds = config["NOTIFY_BACKOFF_SECONDS"] * 2 ** (max(attempts, 1) - 1)
    return timedelta(seconds=min(seconds, config["NOTIFY_BACKOFF_MAX_SECONDS"]))


def deliver_pending(now: datetime, senders: dict[str, Sender] | None = None) -> dict:
    """Send every due pending outbox message (the per-minute job); commits once per message."""
    senders = configured_senders() if senders is None else senders
    due = db.session.scalars(
        sa.select(OutboxMessage.id)
        .where(OutboxMessage.status == OutboxStatus.pending, OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(DELIVERY_BATCH)
    ).all()
    db.session.commit()
    counts = {"sent": 0, "retry": 0, "failed": 0, "skipped": 0}
    for message_id in due:
        counts[_deliver_one(message_id, now, senders)] += 1
    return counts


def _deliver_one(message_id: int, now: datetime, senders: dict[str, Sender]) -> str:
    """Claim (commit), send, and record the outcome (commit) of one message."""
    message = db.session.get(OutboxMessage, message_id, populate_existing=True)
    if message is None or message.status != OutboxStatus.pending or message.next_attempt_at > now:
        db.session.commit()
        return "skipped"
    attempts = message.attempts + 1
    claimed = db.session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status == OutboxStatus.pending,
               OutboxMessage.attempts == message.attempts)
        .values(attempts=attempts, next_attempt_at=now + backoff(attempts))
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if claimed != 1:
        return "skipped"
    message = db.session.get(OutboxMessage, message_id, populate_existing=True)
    notification = db.session.get(Notification, message.notification_id)
    recipient = db.session.get(User, notification.user_id)
    permanent = False
    try:
        sender = senders.get(message.channel)
        if sender is None:
            raise LookupError(f"channel {message.channel!r} is not configured")
        subject, body = compose(notification, recipient)
        sender.send(recipient, subject, body)
    except Exception as error:  # noqa: BLE001 - any sender failure is recorded and retried
        permanent = isinstance(error, PermanentDeliveryError)
        message.last_error = f"{type(error).__name__}: {error}"[:300]
        failed = permanent or attempts >= current_app.config["NOTIFY_MAX_ATTEMPTS"]
        if failed:
            message.status = OutboxStatus.failed
        db.session.commit()
        log.warning("outbox %s (%s, %s) attempt %s failed: %s%s", message_id, notification.kind, message.channel,
                    attempts, type(error).__name__, "; giving up" if failed else "")
        return "failed" if failed else "retry"
    message.status = OutboxStatus.sent
    db.session.commit()
    return "sent"


# --- the inbox and the staff's view of failed messages ----------------------------------------------------------


def inbox_query(user: User) -> sa.Select:
    """The user's notifications, newest first."""
    return (sa.select(Notification).where(Notification.user_id == user.id)
            .order_by(Notification.created_at.desc(), Notification.id.desc()))


def unread_count(user_id: int) -> int:
    """How many of the user's notifications are unread."""
    return db.session.scalar(sa.select(sa.func.count(Notification.id)).where(
        Notification.user_id == user_id, Notification.read_at.is_(None))) or 0


def mark_read(user: User, notification_id: int, now: datetime | None = None) -> Notification | None:
    """Mark one of the user's own notifications read; None if it is not theirs (or does not exist)."""
    note = db.session.scalar(sa.select(Notification).where(
        Notification.id == notification_id, Notification.user_id == user.id))
    if note is not None and note.read_at is None:
        note.read_at = now or utcnow()
        db.session.flush()
    return note


def mark_all_read(user: User, now: datetime | None = None) -> int:
    """Mark all the user's unread notifications read; returns how many."""
    result = db.session.execute(
        sa.update(Notification).where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=now or utcnow()).execution_options(synchronize_session=False))
    db.session.flush()
    return result.rowcount


def failed_messages() -> sa.Select:
    """Outbox messages that gave up, newest first (for city staff)."""
    return (sa.select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.failed)
            .order_by(OutboxMessage.next_attempt_at.desc(), OutboxMessage.id.desc()))


def retry_failed(message_id: int, actor: User, now: datetime | None = None) -> OutboxMessage:
    """Put a failed message back in the queue with a fresh attempt count; audited."""
    message = db.session.get(OutboxMessage, message_id)
    if message is None or message.status != OutboxStatus.failed:
        raise ServiceError(_("This message is not waiting for a retry."), 404)
    message.status, message.attempts, message.next_attempt_at = OutboxStatus.pending, 0, now or utcnow()
    db.session.flush()
    audit.record("outbox_retry", actor, "outbox", message.id, channel=message.channel)
    return message
