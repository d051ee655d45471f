"""Getting back in: a manager's one-time set-password link or code, the user's own "forgot password" code, and
redeeming any of them, which logs the user in with must_change_password set (the portals then send them to the
change-password page before anything else).

Who manages whom (`may_reset`): city staff reset anyone but themselves; an agency's or pairing unit's
administrator resets the social workers or cadres of their own organisation.

"Forgot password" never tells whether an account exists: the same answer after the same work (the throttles,
keyed on what was typed when no account matches, one lookup, one audit row); issuing and sending the code happen
on a thread after the answer (`issue_code`).
A code goes only to the account's verified e-mail address and verified mobile number (the columns the user
verifies on their account page), never to an address from a member or volunteer record.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from socialforce.platform import crypto
from socialforce.platform.extensions import db
from socialforce.platform.models import Role, User
from socialforce.platform.services import ServiceError, accounts, audit
from socialforce.platform.services import one_time_codes as codes

RESET_LIFETIME = timedelta(hours=24)
FORGOT_MINUTES = 15
ORG_MEMBERS = {Role.agency_admin: Role.social_worker, Role.unit_admin: Role.cadre}


def may_reset(actor: User, user: User) -> bool:
    """Whether `actor` manages `user`'s account: city staff anyone else; town staff their town's village
    assistants; an admin their own workers or cadres."""
    if actor.id == user.id:
        return False
    if actor.role == Role.city_staff:
        return actor.county_id is not None and user.county_id == actor.county_id
    if actor.role == Role.town_staff and user.role == Role.village_assistant:
        return actor.town_id is not None and user.town_id == actor.town_id
    return (ORG_MEMBERS.get(actor.role) == user.role and actor.provider_id is not None
            and user.provider_id == actor.provider_id)


@dataclass(frozen=True)
class IssuedReset:
    """A secret to show once: a link token or an 8-character code, and when it expires."""

    kind: str  # "link" or "code"
    secret: str
    expires_at: datetime

    def __repr__(self) -> str:  # never print the secret
        return f"IssuedReset(kind={self.kind!r}, expires_at={self.expires_at!r})"


def issue_reset(user: User, kind: str, actor: User | None, now: datetime, ip: str | None = None) -> IssuedReset:
    """A one-time set-password link or code for the user, valid 24 h; voids their earlier ones; audited.

    `actor` None is the command line (create-admin); otherwise the actor must manage the user (`may_reset`).
    The password is not changed until the secret is used; the user must then choose a new one.
    """
    if kind not in ("link", "code"):
        raise ServiceError(_("Choose a link or a code."), status=400, field="kind")
    if actor is not None and not may_reset(actor, user):
        raise ServiceError(_("You do not manage this account."), status=403)
    if not user.active:
        raise ServiceError(_("This account is deactivated; reactivate it first."))
    secret = codes.link_token() if kind == "link" else codes.letters_code()
    purpose = codes.RESET_LINK if kind == "link" else codes.RESET_CODE
    row = codes.issue(user, purpose, secret, RESET_LIFETIME, now, actor, voids=codes.RESET_PURPOSES)
    audit.record("password_reset_issued", actor, "user", user.id, ip=ip, kind=kind)
    return IssuedReset(kind, secret, row.expires_at)


# --- redeeming -------------------------------------------------------------------------------------------------


def _signed_in_after_reset(user: User, method: str, ip: str | None) -> User:
    """A spent secret: every other session ends and the user must choose a new password; audited."""
    user.must_change_password = True
    accounts.end_sessions(user)
    audit.record("password_reset_used", user, "user", user.id, ip=ip, method=method)
    return user


def link_user(token: str, now: datetime) -> User | None:
    """The active user a live set-password link is for (nothing is spent), or None."""
    row = codes.find_link(token, now)
    user = db.session.get(User, row.user_id) if row is not None else None
    return user if user is not None and user.active else None


def redeem_link(token: str, now: datetime, ip: str | None = None) -> User | None:
    """Spend a set-password link: the user to log in (who must choose a new password), or None."""
    row = codes.find_link(token, now)
    if row is None or not codes.spend(row.id, now):
        return None
    user = db.session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    return _signed_in_after_reset(user, "link", ip)


def redeem_code(identifier: str, code: str, now: datetime, ip: str | None = None) -> User | None:
    """Spend a manager's 8-character code or a "forgot password" code of the account named by `identifier`
    (username, or verified e-mail or mobile): the user to log in, or None (wrong, used, expired, too many tries
    or no such account: one answer for all)."""
    user = find_account(identifier)
    if user is None or not user.active:
        codes.secret_hash(codes.RESET_CODE, 0, code)  # the same hashing work
        return None
    row = codes.try_code(user.id, (codes.RESET_CODE, codes.FORGOT), code, now)
    if row is None:
        return None
    return _signed_in_after_reset(user, "code" if row.purpose == codes.RESET_CODE else "forgot", ip)


# --- "forgot password" -------------------------------------------------------------------------------------------


def _one(query: sa.Select) -> User | None:
    """The one user a query finds, or None when none or several do (an address two accounts verified names none)."""
    found = db.session.scalars(query.limit(2)).all()
    return found[0] if len(found) == 1 else None


def find_account(identifier: str | None) -> User | None:
    """The account a person names by username, verified e-mail address or verified mobile number, or None."""
    text = (identifier or "").strip()
    if not text or len(text) > 254:
        return None
    user = db.session.scalar(sa.select(User).where(User.username == text))
    if user is not None:
        return user
    if "@" in text:
        return _one(sa.select(User).where(sa.func.lower(User.email) == text.lower(),
                                          User.email_verified_at.is_not(None)))
    digits = "".join(ch for ch in text if ch.isdigit())
    if len(digits) == 11:
        return _one(sa.select(User).where(User.phone_hash == crypto.lookup_hash("phone:" + digits),
                                          User.phone_verified_at.is_not(None)))
    return None


@dataclass(frozen=True)
class Throttled:
    """Too many codes asked for: from this address, or for this account; try again after `minutes`."""

    minutes: int


def verified_addresses(user: User) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The user's verified e-mail addresses and mobile numbers (never a member's or volunteer's record)."""
    emails = (user.email,) if user.email and user.email_verified_at else ()
    phones = (crypto.decrypt(user.phone_enc),) if user.phone_enc and user.phone_verified_at else ()
    return emails, phones


@dataclass(frozen=True)
class CodeRequest:
    """A "forgot password" request that passed the limits: the account it names (None: none), and when."""

    user_id: int | None
    at: datetime


def request_code(identifier: str, ip: str | None, now: datetime) -> CodeRequest | Throttled:
    """Ask for a 6-digit code to get back in: the request for `issue_code` (run after the answer, on a thread),
    or Throttled. The work here is the same whether or not an account matches: the limits per address (IP) and
    per account (keyed on what was typed when no account matches) in FORGOT_WINDOW_MINUTES windows, one lookup
    and one audit row that does not say whether an account matched."""
    config = current_app.config
    minutes = int(config["FORGOT_WINDOW_MINUTES"])
    if ip and not accounts.reserve("forgot-ip", ip, int(config["FORGOT_MAX_PER_IP"]), minutes, now):
        return Throttled(minutes)
    user = find_account(identifier)
    subject = f"user:{user.id}" if user is not None else "typed:" + (identifier or "").strip().lower()[:254]
    if not accounts.reserve("forgot-ac", subject, int(config["FORGOT_MAX_PER_ACCOUNT"]), minutes, now):
        return Throttled(minutes)
    audit.record("password_code_requested", None, ip=ip)
    return CodeRequest(user.id if user is not None else None, now)


def issue_code(request: CodeRequest) -> codes.Delivery:
    """Issue the code of a request (voiding the account's earlier one) and the message carrying it, if the account
    is active and has a verified address on a configured channel; else nothing (NOTHING). Flushes; audited."""
    user = db.session.get(User, request.user_id) if request.user_id is not None else None
    if user is None or not user.active:
        return codes.NOTHING
    emails, phones = verified_addresses(user)
    channels = codes.channels_configured()
    emails, phones = (emails if channels["email"] else ()), (phones if channels["sms"] else ())
    if not emails and not phones:
        return codes.NOTHING
    code = codes.digits_code()
    codes.issue(user, codes.FORGOT, code, timedelta(minutes=FORGOT_MINUTES), request.at)
    audit.record("password_code_issued", None, "user", user.id,
                 channels=(["email"] if emails else []) + (["sms"] if phones else []))
    return codes.delivery(user, code, FORGOT_MINUTES, emails, phones)
