"""One-time secrets (table one_time_codes): issue, check and spend them, and send a code to an address.

A secret is shown or sent once and stored only as a keyed hash (crypto.lookup_hash) of its purpose, its user and
itself. Issuing one voids the user's live secrets of the same purposes. Checking a code counts the try first with
a conditional UPDATE (attempts < CODE_MAX_TRIES), so the fifth wrong try voids it even under concurrent requests;
spending it is another conditional UPDATE (used_at IS NULL), so of any number of concurrent uses exactly one wins.

Codes are sent straight through the notification senders (EmailSender, SmsSender) with the address handed in,
never through the outbox: the outbox stores its texts, and a code must not be stored in plain text anywhere.
Issuing (for "forgot password") and sending run on a short-lived thread after the request's transaction commits,
so the answer to "forgot password" takes the same time whether or not a code is issued and a message goes out.
"""
from __future__ import annotations

import hmac
import logging
import re
import secrets
import threading
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import Flask, Response, current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from socialforce.platform import crypto
from socialforce.platform.extensions import db
from socialforce.platform.models import OneTimeCode, User
from socialforce.platform.services import notifications
from socialforce.platform.transactions import run_in_transaction

log = logging.getLogger("socialforce.codes")

RESET_LINK, RESET_CODE, FORGOT, EMAIL, PHONE = "reset_link", "reset_code", "forgot", "email", "phone"
RESET_PURPOSES = (RESET_LINK, RESET_CODE, FORGOT)
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud or typed from paper
CODE_MAX_TRIES = 5
SPACES_RE = re.compile(r"[\s\-]+")


def digits_code() -> str:
    """A random 6-digit code (sent by SMS or e-mail)."""
    return f"{secrets.randbelow(10**6):06d}"


def letters_code() -> str:
    """A random 8-character code (a manager reads it out or writes it down)."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))


def link_token() -> str:
    """A random token for a set-password link (256 bits)."""
    return secrets.token_urlsafe(32)


def normalize(code: str | None) -> str:
    """A typed code as stored: upper case, without spaces or dashes (full-width characters folded)."""
    return SPACES_RE.sub("", unicodedata.normalize("NFKC", code or "")).upper()[:64]


def secret_hash(purpose: str, user_id: int | None, secret: str) -> str:
    """The keyed hash a secret is stored and found under (a link token is found without its user)."""
    owner = "" if purpose == RESET_LINK else str(user_id)
    return crypto.lookup_hash(f"otc:{purpose}:{owner}:{normalize(secret) if purpose != RESET_LINK else secret}")


def void_live(user_id: int, purposes: Iterable[str], now: datetime) -> int:
    """Void the user's live secrets of these purposes; returns how many."""
    return db.session.execute(
        sa.update(OneTimeCode).where(OneTimeCode.user_id == user_id, OneTimeCode.purpose.in_(tuple(purposes)),
                                     OneTimeCode.used_at.is_(None), OneTimeCode.voided_at.is_(None))
        .values(voided_at=now).execution_options(synchronize_session=False)).rowcount


def issue(user: User, purpose: str, secret: str, lifetime: timedelta, now: datetime, actor: User | None = None,
          voids: Iterable[str] = (), target: str | None = None) -> OneTimeCode:
    """Store a new secret for the user (its keyed hash only), voiding their live ones of `voids`; flushes."""
    void_live(user.id, set(voids) | {purpose}, now)
    row = OneTimeCode(user_id=user.id, purpose=purpose, secret_hash=secret_hash(purpose, user.id, secret),
                      target_enc=crypto.encrypt(target) if target else None, attempts=0, expires_at=now + lifetime,
                      created_by_id=actor.id if actor is not None else None, created_at=now)
    db.session.add(row)
    db.session.flush()
    return row


def _live(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(OneTimeCode.used_at.is_(None), OneTimeCode.voided_at.is_(None), OneTimeCode.expires_at > now)


PURGE_BATCH = 5000
DEFAULT_RETENTION_DAYS = 30


def purge_expired(now: datetime) -> dict:
    """Scheduler job: delete the codes that expired more than ONE_TIME_CODE_RETENTION_DAYS ago, in batches.

    Every code expires (a used or voided one too, at its original expiry), so `expires_at` alone decides; a code
    still live is never older than its lifetime, so it is never deleted. Idempotent: a second run finds nothing.
    """
    days = int(current_app.config.get("ONE_TIME_CODE_RETENTION_DAYS", DEFAULT_RETENTION_DAYS))
    cutoff = now - timedelta(days=max(days, 1))
    deleted = 0
    while True:
        ids = db.session.scalars(sa.select(OneTimeCode.id).where(OneTimeCode.expires_at < cutoff)
                                 .order_by(OneTimeCode.id).limit(PURGE_BATCH)).all()
        if not ids:
            break
        db.session.execute(sa.delete(OneTimeCode).where(OneTimeCode.id.in_(ids)))
        db.session.commit()
        deleted += len(ids)
    db.session.commit()
    return {"deleted": deleted, "cutoff": cutoff.isoformat(timespec="seconds")}


def live_codes(user_id: int, purposes: Iterable[str], now: datetime) -> list[OneTimeCode]:
    """The user's live secrets of these purposes, newest first."""
    return list(db.session.scalars(sa.select(OneTimeCode).where(
        OneTimeCode.user_id == user_id, OneTimeCode.purpose.in_(tuple(purposes)), _live(now))
        .order_by(OneTimeCode.id.desc())))


def spend(row_id: int, now: datetime) -> bool:
    """Mark a live secret used; True for exactly one of any number of concurrent calls."""
    return db.session.execute(
        sa.update(OneTimeCode).where(OneTimeCode.id == row_id, _live(now)).values(used_at=now)
        .execution_options(synchronize_session=False)).rowcount == 1


def try_code(user_id: int, purposes: Iterable[str], code: str, now: datetime) -> OneTimeCode | None:
    """Check a typed code against the user's live codes of these purposes and spend the one it matches.

    Every live code the try is checked against counts it first (atomically, attempts < CODE_MAX_TRIES): the
    CODE_MAX_TRIES-th wrong try leaves a code that no later try can use. Returns the spent row, or None.
    """
    for row in live_codes(user_id, purposes, now):
        counted = db.session.execute(
            sa.update(OneTimeCode).where(OneTimeCode.id == row.id, _live(now),
                                         OneTimeCode.attempts < CODE_MAX_TRIES)
            .values(attempts=OneTimeCode.attempts + 1).execution_options(synchronize_session=False)).rowcount
        if counted != 1:
            continue
        if hmac.compare_digest(row.secret_hash, secret_hash(row.purpose, user_id, code)) and spend(row.id, now):
            return row
    return None


def find_link(token: str, now: datetime) -> OneTimeCode | None:
    """The live set-password link with this token, or None."""
    if not token or len(token) > 100:
        return None
    return db.session.scalar(sa.select(OneTimeCode).where(
        OneTimeCode.purpose == RESET_LINK, OneTimeCode.secret_hash == secret_hash(RESET_LINK, None, token),
        _live(now)))


# --- sending a code -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """A code to send after the commit: to these e-mail addresses and mobile numbers (none: send nothing)."""

    user_id: int | None
    locale: str | None
    emails: tuple[str, ...]
    phones: tuple[str, ...]
    subject: str
    body: str

    def __repr__(self) -> str:  # never print the code or the addresses
        return f"Delivery(user_id={self.user_id}, emails={len(self.emails)}, phones={len(self.phones)})"


NOTHING = Delivery(None, None, (), (), "", "")


def delivery(user: User | None, code: str, minutes: int, emails: Iterable[str] = (), phones: Iterable[str] = (),
             verifying: bool = False) -> Delivery:
    """The message carrying a code, in the user's language."""
    locale = (user.locale if user is not None else None) or current_app.config["BABEL_DEFAULT_LOCALE"]
    with force_locale(locale):  # composed for nobody too: the same work whether or not a message goes out
        subject = _("Socialforce verification code")
        if verifying:
            body = _("Your code to verify this address is %(code)s. It is valid for %(minutes)s minutes.",
                     code=code, minutes=minutes)
        else:
            body = _("Your code to set a new Socialforce password is %(code)s. It is valid for %(minutes)s minutes. "
                     "If you did not ask for it, ignore this message.", code=code, minutes=minutes)
    if user is None:
        return NOTHING
    return Delivery(user.id, locale, tuple(emails), tuple(phones), subject, body)


def channels_configured() -> dict[str, bool]:
    """Which of e-mail and SMS can send codes here (their adapter settings are present)."""
    config = current_app.config
    return {"email": bool(config.get("SMTP_HOST")), "sms": bool(config.get("SMS_GATEWAY_URL"))}


def _senders(app: Flask, message: Delivery) -> list[tuple[notifications.Sender, str]]:
    config = app.config
    senders: list[tuple[notifications.Sender, str]] = []
    for address in message.emails if config.get("SMTP_HOST") else ():
        senders.append((notifications.email_sender(config, address_of=lambda _user, a=address: a), "email"))
    for phone in message.phones if config.get("SMS_GATEWAY_URL") else ():
        senders.append((notifications.sms_sender(config, phone_of=lambda _user, p=phone: p), "sms"))
    return senders


def send_now(app: Flask, message: Delivery) -> int:
    """Send a code through every channel it has an address for; returns how many messages went out."""
    if message.user_id is None:
        return 0
    sent = 0
    with app.app_context():
        recipient = User(id=message.user_id, locale=message.locale)  # transient: the senders read id and locale
        for sender, channel in _senders(app, message):
            try:
                sender.send(recipient, message.subject, message.body)
                sent += 1
            except Exception as error:  # noqa: BLE001 - a failed code message is logged (no address, no code)
                log.warning("code for user %s over %s not sent: %s", message.user_id, channel,
                            type(error).__name__)
    return sent


_threads: list[threading.Thread] = []


def send_in_background(message: Delivery) -> threading.Thread:
    """Send a code on a thread (call after the commit), so the answer does not wait for the mail server."""
    return in_background(lambda: message)


def in_background(prepare: Callable[[], Delivery], app: Flask | None = None) -> threading.Thread:
    """On a thread: run `prepare` as its own transaction (it may issue a code), then send the message it returns."""
    app = app or current_app._get_current_object()  # noqa: SLF001 - the thread needs the app, not the proxy

    def run() -> None:
        with app.app_context():
            try:
                message = run_in_transaction(prepare)
            except Exception as error:  # noqa: BLE001 - logged (no address, no code); the user may ask again
                log.warning("a code could not be issued: %s", type(error).__name__)
                return
            finally:
                db.session.remove()
        send_now(app, message)

    _threads[:] = [t for t in _threads if t.is_alive()]
    thread = threading.Thread(target=run, name="one-time-code", daemon=True)
    _threads.append(thread)
    thread.start()
    return thread


def after_response(response: Response, prepare: Callable[[], Delivery]) -> Response:
    """Run `in_background(prepare)` once the response has been sent (the WSGI server closes it): no part of
    issuing or sending a code, not even its thread competing for the interpreter, is in the answer's time."""
    app = current_app._get_current_object()  # noqa: SLF001 - the contexts are gone when the response closes
    response.call_on_close(lambda: in_background(prepare, app))
    return response


def wait_for_background(timeout: float = 10.0) -> None:
    """Join the code threads still running (tests, and a clean shutdown)."""
    for thread in list(_threads):
        thread.join(timeout)
