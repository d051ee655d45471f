"""The daily job that deletes one-time codes expired more than ONE_TIME_CODE_RETENTION_DAYS ago."""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from socialforce.platform.extensions import db
from socialforce.platform.models import OneTimeCode, Role
from socialforce.platform.scheduler.jobs import JOBS, resolve
from socialforce.platform.services import one_time_codes as codes
from socialforce.platform.services.accounts import create_user

NOW = datetime(2026, 6, 1, 12, 0)


def test_codes_expired_beyond_the_retention_are_deleted_and_the_rest_kept(app, monkeypatch):
    monkeypatch.setitem(app.config, "ONE_TIME_CODE_RETENTION_DAYS", 30)
    user = create_user("purge_user", "long-password-1", Role.city_staff, "市局")
    old = codes.issue(user, codes.RESET_LINK, "a", timedelta(hours=24), NOW - timedelta(days=40))
    used = codes.issue(user, codes.RESET_CODE, "b", timedelta(hours=24), NOW - timedelta(days=35))
    used.used_at = NOW - timedelta(days=35)
    recent = codes.issue(user, codes.FORGOT, "c", timedelta(minutes=15), NOW - timedelta(days=10))  # expired, kept
    live = codes.issue(user, codes.EMAIL, "d", timedelta(minutes=15), NOW)
    edge = codes.issue(user, codes.PHONE, "e", timedelta(days=1), NOW - timedelta(days=31))  # expired 30 days ago
    db.session.commit()
    kept_ids, gone_ids = {recent.id, live.id, edge.id}, {old.id, used.id}
    result = codes.purge_expired(NOW)
    assert result["deleted"] == 2
    assert set(db.session.scalars(sa.select(OneTimeCode.id))) == kept_ids
    assert not gone_ids & set(db.session.scalars(sa.select(OneTimeCode.id)))
    assert codes.purge_expired(NOW)["deleted"] == 0  # idempotent


def test_the_retention_is_configured(app, monkeypatch):
    user = create_user("purge_user2", "long-password-1", Role.city_staff, "市局")
    codes.issue(user, codes.RESET_LINK, "a", timedelta(hours=24), NOW - timedelta(days=10))
    db.session.commit()
    monkeypatch.setitem(app.config, "ONE_TIME_CODE_RETENTION_DAYS", 30)
    assert codes.purge_expired(NOW)["deleted"] == 0
    monkeypatch.setitem(app.config, "ONE_TIME_CODE_RETENTION_DAYS", 7)
    assert codes.purge_expired(NOW)["deleted"] == 1


def test_the_purge_is_one_daily_job_of_the_scheduler():
    spec = next(s for s in JOBS if s.id == "purge_one_time_codes")
    assert spec.cadence == "day" and resolve(spec.func) is codes.purge_expired
