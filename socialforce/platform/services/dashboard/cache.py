"""A short-lived cache of whole dashboards.

The figures are SQL aggregates over the whole history (about 0.5 s of database work for the city over a year
on the scale-1.0 demo). The page remembers each built dashboard for DASHBOARD_CACHE_SECONDS (default 60 s; 0
turns the cache off; off under testing unless set), per process, keyed by the user's scope (role, town), the
filters, the language and the data version: the newest audit-log id. Every audited change (dispatch, responses,
visits, hours, evaluations, items, imports, logins) moves that id, so such a change shows at the next page
view; the time limit bounds how stale anything else can be (scheduler jobs, `now` for overdue visits).
"""
from __future__ import annotations

import threading
import time as clock_module
from datetime import datetime

import sqlalchemy as sa
from flask import current_app

from socialforce.platform.extensions import db
from socialforce.platform.i18n import select_locale
from socialforce.platform.models import AuditLog, User
from socialforce.platform.services.dashboard.filters import Filters
from socialforce.platform.services.dashboard.tables import Dashboard, build

CACHE_ENTRIES = 64
_cache: dict[tuple, tuple[float, Dashboard]] = {}
_cache_lock = threading.Lock()


def clock() -> float:
    """Seconds on a monotonic clock (the cache's time limits)."""
    return clock_module.monotonic()


def cache_seconds() -> float:
    """How long a built dashboard is reused (config DASHBOARD_CACHE_SECONDS: 60 by default, 0 under testing)."""
    return float(current_app.config["DASHBOARD_CACHE_SECONDS"])


def data_version() -> int:
    """The newest audit-log id (one primary-key lookup): it moves with every audited change."""
    return db.session.scalar(sa.select(sa.func.max(AuditLog.id))) or 0


def cached_build(user: User, f: Filters, now: datetime) -> Dashboard:
    """build(), reused while fresh for the same scope, filters, language and data version (see the module docstring)."""
    ttl = cache_seconds()
    if ttl <= 0:
        return build(user, f, now)
    key = (user.role, user.town_id, f, select_locale(), data_version())
    hit = _cache.get(key)
    if hit is not None and hit[0] > clock():
        return hit[1]
    data = build(user, f, now)
    with _cache_lock:
        expired = [k for k, (until, _data) in _cache.items() if until <= clock()]
        for k in expired:
            del _cache[k]
        while len(_cache) >= CACHE_ENTRIES:
            del _cache[next(iter(_cache))]  # the oldest entry
        _cache[key] = (clock() + ttl, data)
    return data


def clear_cache() -> None:
    """Forget every cached dashboard."""
    with _cache_lock:
        _cache.clear()
