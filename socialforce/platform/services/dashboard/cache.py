"""A short-lived cache of whole dashboards, shared by every process (platform/caching.py).

The figures are SQL aggregates over the whole history (about 0.5 s of database work for the city over a year
on the scale-1.0 demo). The page remembers each built dashboard for DASHBOARD_CACHE_SECONDS (default 60 s; 0
turns the cache off; off under testing unless set) in the shared cache (Redis, or files under instance/cache),
so a dashboard built by one web process is reused by every other. An entry is keyed by the user's scope (role, county,
town), the filters, the language and the data version: the newest audit-log id. Every audited change (dispatch,
responses, visits, hours, evaluations, items, imports, logins) moves that id, so such a change, made through any
process, shows at the next page view in every process; the time limit bounds how stale anything else can be
(scheduler jobs, `now` for overdue visits). The API's figures may be up to API_FIGURES_CACHE_SECONDS old whatever
changed (`max_age`): an app or partner polling them does not rebuild them after every change in the county.
"""
from __future__ import annotations

import time as clock_module
from collections.abc import Callable
from dataclasses import astuple, fields
from datetime import datetime

import sqlalchemy as sa
from flask import current_app

from socialforce.platform import caching
from socialforce.platform.extensions import db
from socialforce.platform.i18n import select_locale
from socialforce.platform.models import AuditLog, User
from socialforce.platform.services.dashboard.filters import Filters
from socialforce.platform.services.dashboard.tables import Dashboard, Table, build

# The shape of a cached value: an entry pickled by a process running older code is never read as the new shape.
SHAPE = ".".join(f.name for f in (*fields(Dashboard), *fields(Table)))


def clock() -> float:
    """Seconds on the wall clock (the entries' time limits, compared across processes)."""
    return clock_module.time()


def cache_seconds() -> float:
    """How long a built dashboard is reused (config DASHBOARD_CACHE_SECONDS: 60 by default, 0 under testing)."""
    return float(current_app.config["DASHBOARD_CACHE_SECONDS"])


def data_version() -> int:
    """The newest audit-log id (one primary-key lookup): it moves with every audited change."""
    return db.session.scalar(sa.select(sa.func.max(AuditLog.id))) or 0


def cache_key(user: User, f: Filters, versioned: bool = True) -> str:
    """The shared cache's key for this scope, filters, language and (unless `versioned` is False) data version."""
    version = data_version() if versioned else "any"
    return f"dashboard:{user.role}:{user.county_id}:{user.town_id}:{select_locale()}:{version}:{astuple(f)!r}:{SHAPE}"


def _reused(key: str, seconds: float, make: Callable[[], Dashboard]) -> Dashboard:
    hit = caching.get(key)
    if hit is not None and hit[0] > clock():
        return hit[1]
    data = make()
    caching.put(key, (clock() + seconds, data), seconds)
    return data


def cached_build(user: User, f: Filters, now: datetime, max_age: float = 0) -> Dashboard:
    """build(), reused while fresh for the same scope, filters, language and data version (see the module docstring);
    with `max_age` (the API), a build of the same scope and filters up to `max_age` seconds old whatever changed since."""
    ttl = cache_seconds()
    if ttl <= 0:
        return build(user, f, now)

    def latest() -> Dashboard:
        return _reused(cache_key(user, f), ttl, lambda: build(user, f, now))
    return _reused(cache_key(user, f, versioned=False), max_age, latest) if max_age > 0 else latest()


def clear_cache() -> None:
    """Forget every cached dashboard (with the rest of the shared cache: tests only)."""
    caching.clear()
