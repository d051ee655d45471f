"""Accounts: creating users and checking passwords."""
from __future__ import annotations

import sqlalchemy as sa
from werkzeug.security import check_password_hash, generate_password_hash

from socialforce.platform.extensions import db
from socialforce.platform.models import Role, User

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
