"""Accounts: creating users, checking passwords, login throttling, changing passwords."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from werkzeug.security import check_password_hash, generate_password_hash

from socialforce.platform import crypto
from socialforce.platform.extensions import db
from socialforce.platform.models import AuditLog, Role, User
from socialforce.platform.services import ServiceError, audit

MIN_PASSWORD_LENGTH = 8

# A fixed hash to compare against for unknown users, so both failures take the same time.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


def create_user(
    username: str,
    password: str,
    role: Role,
    display_name: str,
    town_id: int | None = None,
    provider_id: int | None = None,
    member_id: int | None = None,
) -> User:
    """Create a user with a scrypt password hash; flushes."""
    user = User(
        username=username,
        password_hash=generate_password_hash(password),
        role=role,
        display_name=display_name,
        town_id=town_id,
        provider_id=provider_id,
        member_id=member_id,
    )
    db.session.add(user)
    db.session.flush()
    return user


def authenticate(username: str, password: str) -> User | None:
    """The active user with this username and password, or None (same work for unknown users)."""
    user = db.session.scalar(sa.select(User).where(User.username == username.strip()))
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(user.password_hash, password) or not user.active:
        return None
    return user


def account_key(username: str) -> str:
    """A keyed hash naming the account a login attempt was for (the same for known and unknown usernames)."""
    return crypto.lookup_hash("login:" + username.strip())


@dataclass(frozen=True)
class Lock:
    """Why logins are refused for now: the account or the address had too many recent failures."""

    scope: str  # "account" or "ip"
    minutes: int


def login_lock(username: str, ip: str | None, now: datetime) -> Lock | None:
    """The lock on this username or address, if its failures in the last LOGIN_LOCK_MINUTES reached the limit.

    Failures are the audit log's `login_failed` rows (shared by every worker through the database); a successful
    login of the account starts its count afresh. Unknown usernames are counted the same way, so a lock never
    tells whether an account exists.
    """
    config = current_app.config
    minutes = int(config["LOGIN_LOCK_MINUTES"])
    since = now - timedelta(minutes=minutes)
    failures = sa.select(sa.func.count(AuditLog.id)).where(AuditLog.action == "login_failed", AuditLog.at >= since)
    last_login = db.session.scalar(
        sa.select(sa.func.max(AuditLog.at)).join(User, User.id == AuditLog.user_id)
        .where(AuditLog.action == "login", User.username == username.strip(), AuditLog.at >= since))
    account_since = max(since, last_login) if last_login else since
    by_account = db.session.scalar(failures.where(AuditLog.at >= account_since,
                                                  AuditLog.detail["account"].as_string() == account_key(username)))
    if by_account >= int(config["LOGIN_MAX_FAILURES"]):
        return Lock("account", minutes)
    if ip and db.session.scalar(failures.where(AuditLog.ip == ip)) >= int(config["LOGIN_MAX_FAILURES_PER_IP"]):
        return Lock("ip", minutes)
    return None


def record_login_failure(username: str, ip: str | None, now: datetime) -> None:
    """Count one failed login against the username (keyed hash, never the text) and the address."""
    db.session.add(AuditLog(action="login_failed", at=now, ip=ip, detail={"account": account_key(username)}))
    db.session.flush()


def change_password(user: User, current: str, new: str, ip: str | None = None) -> None:
    """Set a new password after checking the current one, and end every session of the user; audited."""
    if not check_password_hash(user.password_hash, current or ""):
        raise ServiceError(_("The current password is wrong."), status=400, field="current")
    if len(new or "") < MIN_PASSWORD_LENGTH:
        raise ServiceError(_("Use at least %(n)s characters.", n=MIN_PASSWORD_LENGTH), status=400, field="new")
    if new == current:
        raise ServiceError(_("Choose a password different from the current one."), status=400, field="new")
    user.password_hash = generate_password_hash(new)
    end_sessions(user)
    audit.record("password_changed", user, "user", user.id, ip=ip)


def end_sessions(user: User) -> None:
    """Invalidate every session of the user (their cookies name the old session_version); flushes."""
    db.session.execute(sa.update(User).where(User.id == user.id)
                       .values(session_version=User.session_version + 1)
                       .execution_options(synchronize_session=False))
    db.session.refresh(user, ["session_version"])
