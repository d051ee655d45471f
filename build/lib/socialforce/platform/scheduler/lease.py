"""The scheduler lease: a row (name, holder, expires_at) that only one process holds at a time.

`acquire` is one conditional UPDATE (taken if we hold it or it has expired) and, when no row exists, one INSERT whose
primary-key clash means someone else won; both are atomic on SQLite and PostgreSQL. Times come from each process's
clock (naive UTC), so scheduler hosts need synchronised clocks (NTP); skew eats into the lease margin.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from socialforce.platform.extensions import db
from socialforce.platform.models import SchedulerLease
from socialforce.platform.transactions import run_in_transaction


def acquire(name: str, holder: str, now: datetime, seconds: float) -> bool:
    """Take or renew the lease until now + seconds; False if another holder's lease has not expired."""
    expires = now + timedelta(seconds=seconds)

    def work() -> bool:
        updated = db.session.execute(
            sa.update(SchedulerLease)
            .where(SchedulerLease.name == name,
                   sa.or_(SchedulerLease.holder == holder, SchedulerLease.expires_at <= now))
            .values(holder=holder, expires_at=expires)
            .execution_options(synchronize_session=False)
        ).rowcount
        if updated == 1:
            return True
        exists = db.session.scalar(sa.select(sa.func.count()).where(SchedulerLease.name == name))
        if exists:
            return False
        db.session.execute(sa.insert(SchedulerLease).values(name=name, holder=holder, expires_at=expires))
        return True

    try:
        return run_in_transaction(work)
    except sa.exc.IntegrityError:  # another process inserted the row first
        return False


def holds(name: str, holder: str, now: datetime) -> bool:
    """Whether `holder` holds an unexpired lease at `now`."""
    return bool(db.session.scalar(
        sa.select(sa.func.count()).where(SchedulerLease.name == name, SchedulerLease.holder == holder,
                                         SchedulerLease.expires_at > now)
    ))


def release(name: str, holder: str, now: datetime) -> None:
    """Let the lease expire at once (a clean shutdown hands over without waiting)."""
    run_in_transaction(lambda: db.session.execute(
        sa.update(SchedulerLease).where(SchedulerLease.name == name, SchedulerLease.holder == holder)
        .values(expires_at=now).execution_options(synchronize_session=False)
    ))
