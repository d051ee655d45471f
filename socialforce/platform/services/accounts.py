"""Accounts: creating users, checking passwords, login throttling, changing passwords."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from werkzeug.security import check_password_hash, generate_password_hash

from socialforce.platform import crypto
from socialforce.platform.extensions import db
from socialforce.platform.models import AuditLog, LoginThrottle, Role, User
from socialforce.platform.services import ServiceError, audit

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 200


def hash_password(password: str) -> str:
    """The password's salted hash by the configured method (PASSWORD_HASH_METHOD)."""
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


@cache
def _dummy_hash(method: str) -> str:
    """A fixed hash to compare against for unknown users, so both failures take the same time."""
    return generate_password_hash("not-a-real-password", method=method)


def create_user(
    username: str,
    password: str,
    role: Role,
    display_name: str,
    town_id: int | None = None,
    provider_id: int | None = None,
    member_id: int | None = None,
    village_id: int | None = None,
    county_id: int | None = None,
) -> User:
    """Create a user with a scrypt password hash; flushes (the county, unless given, from what the user names)."""
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role,
        display_name=display_name,
        town_id=town_id,
        provider_id=provider_id,
        member_id=member_id,
        village_id=village_id,
        county_id=county_id,
    )
    db.session.add(user)
    db.session.flush()
    return user


def spend_hashing_time(password: str) -> None:
    """Do the work of hashing a password and keep nothing: a refused request costs what a created login costs."""
    hash_password(password)


def authenticate(username: str, password: str) -> User | None:
    """The active user with this username and password, or None (same work for unknown users)."""
    user = db.session.scalar(sa.select(User).where(User.username == username.strip()))
    if user is None:
        check_password_hash(_dummy_hash(current_app.config["PASSWORD_HASH_METHOD"]), password)
        return None
    if not check_password_hash(user.password_hash, password) or not user.active:
        return None
    return user


def account_key(username: str) -> str:
    """A keyed hash naming the account a login attempt was for (the same for known and unknown usernames)."""
    return crypto.lookup_hash("login:" + username.strip())


@dataclass(frozen=True)
class Lock:
    """Why logins are refused for now: the account at this address, or the address, used up its checks."""

    scope: str  # "account" or "ip"
    minutes: int


def _subjects(username: str, ip: str | None) -> tuple[tuple[str, str], tuple[str, str] | None]:
    """The throttle rows of an attempt: the account at this address, and the address (keyed hashes)."""
    address = ip or "-"
    pair = ("account", crypto.lookup_hash(f"login:{username.strip()}\x00{address}"))
    return pair, (("ip", crypto.lookup_hash("login-ip:" + ip)) if ip else None)


def _row(subject: tuple[str, str]) -> sa.ColumnElement[bool]:
    """The WHERE clause naming a subject's throttle row."""
    return sa.and_(LoginThrottle.scope == subject[0], LoginThrottle.subject == subject[1])


def _reserve(subject: tuple[str, str], limit: int, now: datetime, cutoff: datetime) -> bool:
    """Take one check from a subject's window atomically (UPDATE ... WHERE attempts < limit, or a first INSERT)."""
    row = _row(subject)
    expired = LoginThrottle.window_start < cutoff
    take = (sa.update(LoginThrottle).where(row, sa.or_(expired, LoginThrottle.attempts < limit))
            .values(attempts=sa.case((expired, 1), else_=LoginThrottle.attempts + 1),
                    window_start=sa.case((expired, now), else_=LoginThrottle.window_start))
            .execution_options(synchronize_session=False))
    if db.session.execute(take).rowcount == 1:
        return True
    if db.session.scalar(sa.select(sa.func.count()).where(row)):  # used up, or made by another attempt since the
        return db.session.execute(take).rowcount == 1             # UPDATE looked: take from it like any other
    try:
        with db.session.begin_nested():
            db.session.execute(sa.insert(LoginThrottle).values(scope=subject[0], subject=subject[1], attempts=1,
                                                               window_start=now))
        return True
    except sa.exc.IntegrityError:  # another attempt created the row first: take from it like any other
        return db.session.execute(take).rowcount == 1


def reserve(scope: str, subject: str, limit: int, minutes: int, now: datetime) -> bool:
    """Take one use from the window of a (scope, subject) throttle row; False once `limit` are used up.

    The login limit's mechanism for other limits (password-reset codes, verification codes): `subject` is
    hashed with the keyed hash, so no address or username is stored in the table; scope is at most 10 characters.
    """
    return _reserve((scope, crypto.lookup_hash(f"{scope}:{subject}")), limit, now, now - timedelta(minutes=minutes))


def password_problem(password: str | None) -> str | None:
    """Why a new password is refused by the password rules (translated), or None."""
    if len(password or "") < MIN_PASSWORD_LENGTH:
        return _("Use at least %(n)s characters.", n=MIN_PASSWORD_LENGTH)
    if len(password) > MAX_PASSWORD_LENGTH:
        return _("Use at most %(n)s characters.", n=MAX_PASSWORD_LENGTH)
    return None


def unusable_password_hash() -> str:
    """The hash of a random password nobody knows: an account that gets its first password through a link."""
    return hash_password(secrets.token_urlsafe(32))


def reserve_login(username: str, ip: str | None, now: datetime) -> Lock | None:
    """Reserve one password check for this username at this address, or the lock that refuses it.

    Each check is taken atomically from two windows of LOGIN_LOCK_MINUTES: the account at this address
    (LOGIN_MAX_FAILURES) and the address across accounts (LOGIN_MAX_FAILURES_PER_IP). A wrong password keeps its
    check; a right one gives it back (login_succeeded). Another address is never refused because of this one,
    and unknown usernames are counted the same way, so a lock never tells whether an account exists.
    """
    config = current_app.config
    minutes = int(config["LOGIN_LOCK_MINUTES"])
    cutoff = now - timedelta(minutes=minutes)
    pair, address = _subjects(username, ip)
    if not _reserve(pair, int(config["LOGIN_MAX_FAILURES"]), now, cutoff):
        return Lock("account", minutes)
    if address is not None and not _reserve(address, int(config["LOGIN_MAX_FAILURES_PER_IP"]), now, cutoff):
        _give_back(pair)
        return Lock("ip", minutes)
    return None


def _give_back(subject: tuple[str, str], all_of_them: bool = False) -> None:
    """Return one reserved check to a subject (or every check: a successful login starts afresh)."""
    left = 0 if all_of_them else sa.case((LoginThrottle.attempts > 0, LoginThrottle.attempts - 1), else_=0)
    db.session.execute(sa.update(LoginThrottle).where(_row(subject)).values(attempts=left)
                       .execution_options(synchronize_session=False))


def record_login_failure(username: str, ip: str | None, now: datetime) -> None:
    """Audit one failed login against the username (keyed hash, never the text) and the address."""
    db.session.add(AuditLog(action="login_failed", at=now, ip=ip, detail={"account": account_key(username)}))
    db.session.flush()


def login_succeeded(username: str, ip: str | None) -> None:
    """A right password: the account at this address starts afresh and the address gets its check back."""
    pair, address = _subjects(username, ip)
    _give_back(pair, all_of_them=True)
    if address is not None:
        _give_back(address)


def change_password(user: User, current: str | None, new: str, ip: str | None = None) -> None:
    """Set a new password after checking the current one, and end every session of the user; audited.

    After a reset (must_change_password) the user proved who they are with the one-time secret and has no current
    password to give: `current` is not asked for then, and the new password must differ from the old one.
    """
    forced = user.must_change_password
    if not forced and not check_password_hash(user.password_hash, current or ""):
        raise ServiceError(_("The current password is wrong."), status=400, field="current")
    problem = password_problem(new)
    if problem:
        raise ServiceError(problem, status=400, field="new")
    if new == current or (forced and check_password_hash(user.password_hash, new)):
        raise ServiceError(_("Choose a password different from the current one."), status=400, field="new")
    user.password_hash = hash_password(new)
    user.must_change_password = False
    end_sessions(user)
    audit.record("password_set_after_reset" if forced else "password_changed", user, "user", user.id, ip=ip)


def end_sessions(user: User) -> None:
    """Invalidate every session of the user (their cookies name the old session_version); flushes."""
    db.session.execute(sa.update(User).where(User.id == user.id)
                       .values(session_version=User.session_version + 1)
                       .execution_options(synchronize_session=False))
    db.session.refresh(user, ["session_version"])
