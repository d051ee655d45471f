"""Notifications: an in-app inbox per user plus an outbox of messages for external channels, retried until sent.

`notify` writes one Notification per recipient (the inbox; read_at NULL = unread) and one OutboxMessage per
external channel the deployment offers (NOTIFY_CHANNELS) and the recipient chose for this kind of notice ("log"
always; "email" and "sms" opt-in per kind, notification_prefs.py). Who is told about which event is
services/notices.py. `deliver_pending` (the per-minute job) sends due messages through the channel's Sender
(services/channels.py).

Delivery, per due message: a deactivated recipient's message is dropped (status `dropped`, `last_error` says why),
as is one to an address that is not verified (the sender raises NoAddress); during the recipient's quiet hours an
e-mail or SMS waits until they end (URGENT_KINDS excepted); when more than DIGEST_THRESHOLD messages for one user
and channel are due together, they go out as one digest.

Idempotency and the crash window. Each message carries an `idempotency_key`, the same on every attempt: the
e-mail's Message-ID and the SMS request's `out_id` (the gateway drops a request whose key it has already
accepted). A message is first claimed with a conditional UPDATE that counts the attempt and pushes
`next_attempt_at` out by the backoff, and that claim is COMMITTED before anything is sent; it is marked `sent` in a
second commit right after the channel accepted it. So a crash (kill -9) before the send leaves it pending: it goes
out once, after the backoff. A crash in the window between the channel's acceptance and the `sent` commit also
leaves it pending: it is sent again after the backoff WITH THE SAME KEY, and the gateway (and a mail store by
Message-ID) recognises the copy; the log channel may show it twice. Nothing is ever lost, and nothing is accepted
twice by a channel that deduplicates by key. A sender error is kept in `last_error`; transient errors are retried
with doubling backoff, and after NOTIFY_MAX_ATTEMPTS (or a permanent error) the message is marked failed, listed
for city staff, who can retry it. Kinds are stable codes whose texts live in MESSAGES (one mapping used by the
inbox page and every sender). Params hold ids and category/town codes only: never names, phones, ID numbers or
addresses.
"""
from __future__ import annotations

import hashlib
import logging
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app, g
from flask_babel import force_locale, get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from socialforce.platform import scoping
from socialforce.platform.extensions import db
from socialforce.platform.i18n import local_time
from socialforce.platform.models import (
    Notification,
    OutboxMessage,
    OutboxStatus,
    Role,
    ServiceCategory,
    Town,
    User,
    utcnow,
)
from socialforce.platform.services import ServiceError, audit, notification_prefs
from socialforce.platform.services.channels import (  # noqa: F401 - the senders' names callers import from here
    EmailSender,
    LogSender,
    NoAddress,
    Outgoing,
    PermanentDeliveryError,
    Sender,
    SmsSender,
    TransientDeliveryError,
    deliver,
    email_of,
    phone_of,
)

log = logging.getLogger("socialforce.notifications")

MESSAGES = {
    "order_dispatched": _l("New order #%(order_id)s: %(category)s in %(town)s"),
    "order_accepted": _l("Order #%(order_id)s was accepted"),
    "order_declined": _l("Order #%(order_id)s was declined"),
    "order_expired": _l("Order #%(order_id)s expired without an answer"),
    "order_redispatched": _l("Service item #%(item_id)s (%(category)s) was dispatched again as order "
                             "#%(order_id)s (attempt %(attempt)s)"),
    "order_cancelled": _l("Order #%(order_id)s was cancelled"),
    "order_completed": _l("Order #%(order_id)s was completed"),
    "order_escalated": _l("Service item #%(item_id)s (%(category)s) needs staff attention after "
                          "%(failures)s failed dispatches"),
    "task_published": _l("New volunteer task #%(task_id)s: %(category)s in %(town)s"),
    "task_withdrawn": _l("A volunteer withdrew from task #%(task_id)s (%(category)s, order #%(order_id)s): "
                         "%(open)s of %(slots)s places are open again"),
    "visit_scheduled": _l("Visit #%(visit_id)s is scheduled for %(when)s"),
    "visit_rescheduled": _l("Visit #%(visit_id)s was moved to %(when)s"),
    "visit_cancelled": _l("Visit #%(visit_id)s at %(when)s was cancelled"),
    "visit_reminder": _l("Reminder: visit #%(visit_id)s is due at %(when)s"),
    "visit_missed": _l("Visit #%(visit_id)s was missed"),
    "volunteer_registration_pending": _l("A new volunteer registration (#%(provider_id)s) in %(town)s awaits "
                                         "your review"),
    "certification_pending": _l("Volunteer certificates in %(town)s await your verification"),
    "hours_pending": _l("Volunteer service hours in %(town)s await your confirmation"),
    "village_need_pending": _l("Needs recorded by village assistants in %(town)s await your approval"),
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
DIGEST_THRESHOLD = 5  # more than this many messages for one user and channel due together: one digest
PERSONAL_CHANNELS = ("email", "sms")  # reach a person: opt-in per kind, quiet hours, digests
URGENT_KINDS = frozenset({"order_escalated", "visit_missed", "visit_cancelled", "visit_rescheduled"})


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
    """One inbox notification per user and one outbox message per channel offered and chosen; flushes.

    A deactivated user's messages are recorded as dropped at once."""
    if not KIND_RE.match(kind):
        raise ValueError(f"bad notification kind {kind!r}")
    check_params(params)
    if link is not None and not link.startswith("/"):
        raise ValueError("notification links are site-relative paths")
    now = utcnow()
    notes = [Notification(user_id=user_id, kind=kind, params=dict(params), link=link, created_at=now)
             for user_id in sorted(set(user_ids))]
    if not notes:
        return []
    db.session.add_all(notes)
    db.session.flush()
    ids = [note.user_id for note in notes]
    chosen = notification_prefs.channels_for(ids, kind, current_app.config["NOTIFY_CHANNELS"])
    active = set(db.session.scalars(sa.select(User.id).where(User.id.in_(ids), User.active)))
    db.session.add_all(
        OutboxMessage(notification_id=note.id, channel=channel, next_attempt_at=now,
                      **({} if note.user_id in active else
                         {"status": OutboxStatus.dropped, "last_error": "recipient deactivated"}))
        for note in notes for channel in chosen[note.user_id])
    db.session.flush()
    return notes


def notify_town_staff(town_id: int, kind: str, params: dict, link: str | None = None) -> list[Notification]:
    """Notify the active town staff of a town; if it has none, the active county staff of its county."""
    return notify(town_staff_ids(town_id), kind, params, link)


def town_staff_ids(town_id: int) -> list[int]:
    """The active town staff of a town; if it has none, the active county staff of its county."""
    user_ids = db.session.scalars(sa.select(User.id).where(
        User.role == Role.town_staff, User.town_id == town_id, User.active)).all()
    if not user_ids:
        user_ids = db.session.scalars(sa.select(User.id).where(
            User.role == Role.city_staff, User.active,
            User.county_id == sa.select(Town.county_id).where(Town.id == town_id).scalar_subquery())).all()
    return list(user_ids)


def notify_provider(provider_id: int, kind: str, params: dict, link: str | None = None) -> list[Notification]:
    """Notify every active user of a provider (agency, pairing unit or volunteer)."""
    return notify(provider_user_ids(provider_id), kind, params, link)


def provider_user_ids(provider_id: int) -> list[int]:
    """Every active user of a provider."""
    return list(db.session.scalars(sa.select(User.id).where(User.provider_id == provider_id, User.active)))


# --- rendering ------------------------------------------------------------------------------------------------


def _reference_names(model, code: str) -> tuple[str, str] | None:
    """(name_zh, name_en) of a town or service category by code, cached for the app context."""
    cache = g.setdefault("notification_names", {})
    key = (model.__tablename__, code)
    if key not in cache:
        cache[key] = db.session.execute(sa.select(model.name_zh, model.name_en).where(model.code == code)).first()
    return tuple(cache[key]) if cache[key] is not None else None


def display_params(params: dict, locale: str) -> dict:
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


_display_params = display_params


def render(notification: Notification, locale: str | None = None) -> str:
    """The notification's text in `locale` (default: the current one); unknown kinds get a generic text."""
    locale = locale or str(get_locale() or current_app.config["BABEL_DEFAULT_LOCALE"])
    with force_locale(locale):
        template = MESSAGES.get(notification.kind)
        try:
            if template is not None:
                return str(template) % display_params(notification.params or {}, locale)
        except (KeyError, ValueError, TypeError):
            log.warning("notification %s: params do not fit the %s text", notification.id, notification.kind)
        return str(FALLBACK) % {"kind": notification.kind}


def _locale_of(recipient: User) -> str:
    return recipient.locale or current_app.config["BABEL_DEFAULT_LOCALE"]


def compose(notification: Notification, recipient: User) -> tuple[str, str]:
    """Subject and body for an external channel, in the recipient's language (default zh_CN)."""
    locale = _locale_of(recipient)
    text = render(notification, locale)
    with force_locale(locale):
        subject = _("Socialforce notification")
    return subject, text + (f"\n{notification.link}" if notification.link else "")


def outgoing(message: OutboxMessage, notification: Notification, recipient: User) -> Outgoing:
    """What a sender needs for one message: texts, kind, display params and the idempotency key."""
    subject, body = compose(notification, recipient)
    return Outgoing(subject, body, notification.kind,
                    display_params(notification.params or {}, _locale_of(recipient)),
                    message.idempotency_key or f"outbox-{message.id}")


def compose_digest(notes: list[Notification], recipient: User, key: str, channel: str) -> Outgoing:
    """One message for several notifications in the recipient's language: an e-mail lists them (oldest first),
    an SMS (a template with a length limit) only counts them."""
    locale = _locale_of(recipient)
    with force_locale(locale):
        subject = ngettext("%(num)s new Socialforce notification", "%(num)s new Socialforce notifications",
                           len(notes))
        if channel == "sms":
            body = _("%(subject)s. Please open your inbox.", subject=subject)
        else:
            lines = [f"- {render(note, locale)}" for note in notes]
            body = "\n".join([_("Your new notifications (see the inbox for details):"), *lines])
    return Outgoing(subject, body, "digest", {"count": len(notes)}, key)


# --- senders --------------------------------------------------------------------------------------------------


def _sms_templates(config) -> dict[str, str]:
    templates = config.get("SMS_TEMPLATES") or {}
    return dict(templates) if isinstance(templates, dict) else {}


def email_sender(config, address_of: Callable[[User], str | None] = email_of) -> EmailSender | None:
    """The configured e-mail channel (None without SMTP_HOST); `address_of` picks the address (default: verified)."""
    if not config.get("SMTP_HOST"):
        return None
    return EmailSender(config["SMTP_HOST"], config["SMTP_PORT"], config["SMTP_FROM"], config.get("SMTP_USER"),
                       config.get("SMTP_PASSWORD"), config.get("SMTP_STARTTLS", False),
                       config.get("NOTIFY_TIMEOUT_SECONDS", 10), address_of=address_of)


def sms_sender(config, phone_of: Callable[[User], str | None] = phone_of) -> SmsSender | None:
    """The configured SMS gateway (None without SMS_GATEWAY_URL); `phone_of` picks the number (default: verified)."""
    if not config.get("SMS_GATEWAY_URL"):
        return None
    return SmsSender(config["SMS_GATEWAY_URL"], config.get("SMS_APP_KEY"), config.get("SMS_APP_SECRET"),
                     config.get("SMS_SIGN_NAME") or "", _sms_templates(config), config.get("NOTIFY_TIMEOUT_SECONDS", 10),
                     phone_of=phone_of, token=config.get("SMS_GATEWAY_TOKEN"))


def configured_senders() -> dict[str, Sender]:
    """A Sender for each configured channel; e-mail and SMS only when their settings are present."""
    senders: dict[str, Sender] = {"log": LogSender()}
    for channel, sender in (("email", email_sender(current_app.config)), ("sms", sms_sender(current_app.config))):
        if sender is not None:
            senders[channel] = sender
    return senders


# --- delivery -------------------------------------------------------------------------------------------------


def backoff(attempts: int) -> timedelta:
    """The wait after the n-th attempt: NOTIFY_BACKOFF_SECONDS doubled each time, capped."""
    config = current_app.config
    seconds = config["NOTIFY_BACKOFF_SECONDS"] * 2 ** (max(attempts, 1) - 1)
    return timedelta(seconds=min(seconds, config["NOTIFY_BACKOFF_MAX_SECONDS"]))


def _counts() -> dict:
    return {"sent": 0, "retry": 0, "failed": 0, "skipped": 0, "dropped": 0, "deferred": 0, "digests": 0}


def deliver_pending(now: datetime, senders: dict[str, Sender] | None = None) -> dict:
    """Send every due pending outbox message (the per-minute job); commits once per message (see the docstring)."""
    senders = configured_senders() if senders is None else senders
    due = db.session.execute(
        sa.select(OutboxMessage.id, OutboxMessage.channel, Notification.user_id, Notification.kind)
        .join(Notification, Notification.id == OutboxMessage.notification_id)
        .where(OutboxMessage.status == OutboxStatus.pending, OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(DELIVERY_BATCH)
    ).all()
    db.session.commit()
    counts = _counts()
    groups: dict[tuple[int, str], list[int]] = defaultdict(list)
    for row in due:
        held = _hold(row, now)
        if held:
            counts[held] += 1
        else:
            groups[(row.user_id, row.channel)].append(row.id)
    for (_user_id, channel), message_ids in groups.items():
        if channel in PERSONAL_CHANNELS and len(message_ids) > DIGEST_THRESHOLD:
            outcome, covered = _deliver_digest(message_ids, now, senders)
            counts["digests"] += outcome == "sent"
            counts[outcome] += covered
        else:
            for message_id in message_ids:
                counts[_deliver_one(message_id, now, senders)] += 1
    from socialforce.platform.services import (
        webhooks,  # partners' webhooks: the same outbox, their own sender
    )

    for outcome, number in webhooks.deliver_pending(now).items():
        counts[outcome] += number
    return counts


def _set_if_pending(message_id: int, now: datetime, **values) -> bool:
    """Change a still-pending, still-due message (a conditional UPDATE, committed); False if it moved on."""
    done = db.session.execute(
        sa.update(OutboxMessage).where(OutboxMessage.id == message_id, OutboxMessage.status == OutboxStatus.pending,
                                       OutboxMessage.next_attempt_at <= now)
        .values(**values).execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return done == 1


def _hold(row, now: datetime) -> str | None:
    """Drop a message to a deactivated user, or defer a personal-channel one in quiet hours; None: send it now."""
    recipient = db.session.get(User, row.user_id)
    if recipient is None or not recipient.active:
        return "dropped" if _set_if_pending(row.id, now, status=OutboxStatus.dropped,
                                            last_error="recipient deactivated") else "skipped"
    if row.channel in PERSONAL_CHANNELS and row.kind not in URGENT_KINDS:
        until = notification_prefs.quiet_until(row.user_id, now)
        if until is not None:
            return "deferred" if _set_if_pending(row.id, now, next_attempt_at=until) else "skipped"
    return None


def _claim(message_id: int, now: datetime) -> OutboxMessage | None:
    """Count an attempt and push the next one out by the backoff (committed before sending); None if taken."""
    message = db.session.get(OutboxMessage, message_id, populate_existing=True)
    if message is None or message.status != OutboxStatus.pending or message.next_attempt_at > now:
        db.session.commit()
        return None
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
        return None
    return db.session.get(OutboxMessage, message_id, populate_existing=True)


def _record_failure(messages: list[OutboxMessage], error: Exception) -> str:
    """Keep the error; drop (no address), dead-letter (permanent or out of attempts) or leave for a retry."""
    text = f"{type(error).__name__}: {error}"[:300]
    if isinstance(error, NoAddress):
        outcome = "dropped"
    elif isinstance(error, PermanentDeliveryError) or \
            max(m.attempts for m in messages) >= current_app.config["NOTIFY_MAX_ATTEMPTS"]:
        outcome = "failed"
    else:
        outcome = "retry"
    for message in messages:
        message.last_error = text
        if outcome != "retry":
            message.status = OutboxStatus.dropped if outcome == "dropped" else OutboxStatus.failed
    db.session.commit()
    return outcome


def _deliver_one(message_id: int, now: datetime, senders: dict[str, Sender]) -> str:
    """Claim (commit), send, and record the outcome (commit) of one message."""
    message = _claim(message_id, now)
    if message is None:
        return "skipped"
    notification = db.session.get(Notification, message.notification_id)
    recipient = db.session.get(User, notification.user_id)
    try:
        sender = senders.get(message.channel)
        if sender is None:
            raise LookupError(f"channel {message.channel!r} is not configured")
        deliver(sender, recipient, outgoing(message, notification, recipient))
    except Exception as error:  # noqa: BLE001 - any sender failure is recorded and retried
        outcome = _record_failure([message], error)
        log.warning("outbox %s (%s, %s) attempt %s failed: %s%s", message_id, notification.kind, message.channel,
                    message.attempts, type(error).__name__, "" if outcome == "retry" else f"; {outcome}")
        return outcome
    message.status, message.sent_at = OutboxStatus.sent, now
    db.session.commit()
    return "sent"


def _deliver_digest(message_ids: list[int], now: datetime, senders: dict[str, Sender]) -> tuple[str, int]:
    """Claim each message, send one digest of those claimed (its key derives from theirs), record the outcome."""
    messages = [m for m in (_claim(message_id, now) for message_id in message_ids) if m is not None]
    if not messages:
        return "skipped", len(message_ids)
    notes = db.session.scalars(sa.select(Notification).where(
        Notification.id.in_([m.notification_id for m in messages])).order_by(Notification.created_at,
                                                                             Notification.id)).all()
    recipient = db.session.get(User, notes[0].user_id)
    keys = sorted(m.idempotency_key or f"outbox-{m.id}" for m in messages)
    key = "digest-" + hashlib.sha256("\n".join(keys).encode()).hexdigest()[:40]
    channel = messages[0].channel
    try:
        sender = senders.get(channel)
        if sender is None:
            raise LookupError(f"channel {channel!r} is not configured")
        deliver(sender, recipient, compose_digest(list(notes), recipient, key, channel))
    except Exception as error:  # noqa: BLE001 - any sender failure is recorded and retried
        outcome = _record_failure(messages, error)
        log.warning("digest of %s outbox messages (%s) failed: %s", len(messages), channel, type(error).__name__)
        return outcome, len(messages)
    for message in messages:
        message.status, message.sent_at, message.digest_key = OutboxStatus.sent, now, key
    db.session.commit()
    return "sent", len(messages)


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


UNDELIVERED = {"failed": OutboxStatus.failed, "dropped": OutboxStatus.dropped}
CHANNELS = ("log", "email", "sms", "webhook")  # webhook: partners' events (services/webhooks.py)
DROP_REASONS = {  # a dropped message's stored reason (its start) -> the words staff read
    "recipient deactivated": _l("The recipient's account is deactivated."),
    "NoAddress": _l("The recipient has no verified address on this channel."),
}


@dataclass(frozen=True)
class UndeliveredFilter:
    """Which undelivered messages staff list: state (failed or dropped; None: both), channel, kind of notice, and
    the naive-UTC [since, until) of the notice's creation."""

    state: str | None = None
    channel: str | None = None
    kind: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def problems(self) -> dict[str, str]:
        """A message per field whose value is not one of the list's (empty: the filter is usable)."""
        wrong = {}
        for field, value, allowed in (("state", self.state, UNDELIVERED), ("channel", self.channel, CHANNELS),
                                      ("kind", self.kind, MESSAGES)):
            if value is not None and value not in allowed:
                wrong[field] = _("Choose one from the list.")
        return wrong


def undelivered_messages(where: UndeliveredFilter, actor: User) -> sa.Select:
    """Failed (retryable) and dropped (never to be sent) outbox messages matching the filter, within the staff
    actor's scope (`scoping.outbox_filter`: county staff their county's), newest notice first."""
    states = [UNDELIVERED[where.state]] if where.state else list(UNDELIVERED.values())
    # a partner's webhook has no notice: its time is when it was last due
    created = sa.func.coalesce(Notification.created_at, OutboxMessage.next_attempt_at)
    query = (sa.select(OutboxMessage).outerjoin(Notification, Notification.id == OutboxMessage.notification_id)
             .where(OutboxMessage.status.in_(states), scoping.outbox_filter(actor)))
    if where.channel:
        query = query.where(OutboxMessage.channel == where.channel)
    if where.kind:
        query = query.where(Notification.kind == where.kind)
    if where.since:
        query = query.where(created >= where.since)
    if where.until:
        query = query.where(created < where.until)
    return query.order_by(created.desc(), OutboxMessage.id.desc())


def undelivered_reason(message: OutboxMessage) -> str:
    """Why a message was not delivered: a dropped message's reason in words, else the last error as recorded."""
    text = message.last_error or ""
    if message.status == OutboxStatus.dropped:
        for start, words in DROP_REASONS.items():
            if text.startswith(start):
                return str(words)
    return text


def retry_failed(message_id: int, actor: User, now: datetime | None = None) -> OutboxMessage:
    """Put a failed message in the actor's scope back in the queue with a fresh attempt count; audited."""
    message = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.id == message_id,
                                                               scoping.outbox_filter(actor)))
    if message is None or message.status != OutboxStatus.failed:
        raise ServiceError(_("This message is not waiting for a retry."), 404)
    message.status, message.attempts, message.next_attempt_at = OutboxStatus.pending, 0, now or utcnow()
    db.session.flush()
    audit.record("outbox_retry", actor, "outbox", message.id, channel=message.channel)
    return message
