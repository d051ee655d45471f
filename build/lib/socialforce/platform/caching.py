"""State shared by every process of the platform: one cache (Flask-Caching) and version tokens kept in it.

Where it lives: Redis when `CACHE_REDIS_URL` (or `REDIS_URL`) is set, so the web processes of several machines
share it; otherwise a `FileSystemCache` under `instance/cache` (`CACHE_DIR`), shared by the processes of one
machine (gunicorn workers, the scheduler, the queue worker). `CACHE_TYPE` may name any other Flask-Caching
backend (the tests use `SimpleCache`, one process).

Two uses:
- whole values reused for a while (the dashboard: `get` / `put`);
- version tokens (`token` / `bump`): a process keeps something expensive in its own memory (the matching index)
  keyed by the token it read *before* building it; a change made through any process writes a new random token,
  so every other process sees a different token at its next use and rebuilds. A token is random, never a counter,
  so two processes bumping at once cannot both write the same value (FileSystemCache has no atomic increment).
  `bump_after_commit` writes the token again once the current transaction commits, so no process can keep
  something built from data read before the change was committed.

The cache is an optimisation: when its server cannot be reached every call degrades (`get` misses, `put` and
`bump` do nothing, `token` is None) with one warning per failure kind, never an error page; per-process state then
falls back on its own time limits.
"""
from __future__ import annotations

import logging
import math
import secrets
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm  # noqa: F401 - sa.orm.Session below
from flask import Flask, current_app
from flask_caching import Cache

log = logging.getLogger("socialforce.cache")
cache = Cache()
TOKEN_PREFIX = "version:"
_PENDING_KEY = "bump_cache_tokens"
REDIS_OPTIONS = {"socket_connect_timeout": 1, "socket_timeout": 1}  # an unreachable server costs 1 s, not a hang


def settings(app: Flask) -> dict[str, Any]:
    """The Flask-Caching settings for the app: its CACHE_* config with Redis options and a cache folder filled in."""
    config = {key: value for key, value in app.config.items() if key.startswith("CACHE_")}
    if not config.get("CACHE_TYPE"):
        config["CACHE_TYPE"] = "RedisCache" if config.get("CACHE_REDIS_URL") else "FileSystemCache"
    if config["CACHE_TYPE"] == "RedisCache":
        config["CACHE_OPTIONS"] = {**REDIS_OPTIONS, **(config.get("CACHE_OPTIONS") or {})}
    if config["CACHE_TYPE"] == "FileSystemCache" and not config.get("CACHE_DIR"):
        config["CACHE_DIR"] = str(app.instance_path) + "/cache"
    return config


def init_app(app: Flask) -> None:
    """Bind the shared cache to the app; write pending version tokens when a transaction commits."""
    cache.init_app(app, config=settings(app))
    if not sa.event.contains(sa.orm.Session, "after_commit", _bump_committed):
        sa.event.listen(sa.orm.Session, "after_commit", _bump_committed)
        sa.event.listen(sa.orm.Session, "after_soft_rollback", _forget_uncommitted)  # also with no SQL sent


def backend_name() -> str:
    """The class name of the current app's cache backend (RedisCache, FileSystemCache, ...)."""
    return type(cache.cache).__name__


def _failed(action: str, error: Exception) -> None:
    log.warning("shared cache %s failed (%s); carrying on without it", action, type(error).__name__)


def get(key: str) -> Any:
    """The cached value, or None when absent, expired or the cache cannot be reached."""
    try:
        return cache.get(key)
    except Exception as error:  # noqa: BLE001 - a cache that is down is a miss
        _failed("read", error)
        return None


def put(key: str, value: Any, timeout: float) -> None:
    """Keep a value for `timeout` seconds (rounded up; nothing happens when the cache cannot be reached)."""
    try:
        cache.set(key, value, timeout=max(1, math.ceil(timeout)))
    except Exception as error:  # noqa: BLE001 - a cache that is down keeps nothing
        _failed("write", error)


def clear() -> None:
    """Forget every entry under this app's key prefix (tests; a restart of the cache server does the same)."""
    try:
        cache.clear()
    except Exception as error:  # noqa: BLE001
        _failed("clear", error)


def token(name: str) -> str | None:
    """The current version token of `name` (None before the first bump or when the cache cannot be reached)."""
    return get(TOKEN_PREFIX + name)


def bump(name: str) -> str | None:
    """Write a new random version token for `name` (kept until the next bump); returns it."""
    value = secrets.token_hex(8)
    try:
        cache.set(TOKEN_PREFIX + name, value, timeout=0)
    except Exception as error:  # noqa: BLE001 - other processes then rely on their own time limits
        _failed("bump", error)
        return None
    return value


def bump_after_commit(name: str) -> None:
    """Bump `name` once the current transaction commits (never if it rolls back); at once outside a transaction."""
    from socialforce.platform.extensions import db

    session = db.session()
    if not session.in_transaction():
        bump(name)
        return
    session.info.setdefault(_PENDING_KEY, set()).add(name)


def _bump_committed(session) -> None:
    names = session.info.pop(_PENDING_KEY, None)
    if names and current_app:
        for name in sorted(names):
            bump(name)


def _forget_uncommitted(session, previous_transaction) -> None:
    if previous_transaction.parent is None:  # the whole transaction, not a savepoint within it
        session.info.pop(_PENDING_KEY, None)
