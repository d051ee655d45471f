"""Run one job for one period at most once.

1. Resolve the job's function (a missing one logs an error and skips; nothing is recorded, so it runs once deployed).
2. Claim the period: INSERT a JobRun (job_id, period) row in its own transaction. A unique-key clash means the period
   already ran or is running, so the run is skipped.
3. Run the job and stamp `finished_at` + result in ONE transaction: the job's writes and the stamp commit together.

Crash safety: if the process dies during step 3, the job's writes roll back with the stamp and the JobRun row stays
with `finished_at` NULL. Such a row older than SCHEDULER_STALE_RUN_SECONDS is taken over (a conditional UPDATE, so
only one taker) by the next attempt for that period: the scheduler's catch-up when a process gains the lease, or an
operator's `flask run-job`. A younger one is treated as still running. A job that raises is rolled back, logged, and
its claim deleted, so the period can be retried. Jobs that talk to the outside world (deliver_pending) commit per
message, and jobs that work through many rows people also edit (the overdue sweep, reminders, missed visits, series
and quota visits) commit per row with `transactions.one_by_one`, so no run holds them until its end; each is
idempotent on its own, so a retried period repeats nothing already done.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from socialforce.platform.extensions import db
from socialforce.platform.models import JobRun, utcnow
from socialforce.platform.scheduler.jobs import JobSpec, resolve
from socialforce.platform.transactions import run_in_transaction

log = logging.getLogger("socialforce.scheduler")


@dataclass(frozen=True)
class RunOutcome:
    """What happened: status is 'done', 'skipped' (period already claimed), 'failed' or 'missing' (no function)."""

    job_id: str
    period: str
    status: str
    result: dict | None = None
    seconds: float = 0.0


def run_job(spec: JobSpec, now: datetime) -> RunOutcome:
    """Run `spec` for the period containing `now` unless that period already ran (or is running)."""
    period = spec.period(now)
    try:
        function = resolve(spec.func)
    except (ImportError, AttributeError) as error:
        log.error("job %s period %s skipped: cannot load %s (%s)", spec.id, period, spec.func, type(error).__name__)
        return RunOutcome(spec.id, period, "missing")
    run_id = _claim(spec.id, period)
    if run_id is None:
        log.debug("job %s period %s skipped: already ran or running", spec.id, period)
        return RunOutcome(spec.id, period, "skipped")

    def work() -> dict:
        result = dict(function(now) or {})
        json.dumps(result)  # a result that cannot be stored fails here, inside the transaction
        run = db.session.get(JobRun, run_id, populate_existing=True)
        run.finished_at = utcnow()
        run.result = result
        return result

    started = time.perf_counter()
    try:
        result = run_in_transaction(work)
    except Exception as error:  # noqa: BLE001 - a failing job must never stop the scheduler
        seconds = time.perf_counter() - started
        run_in_transaction(lambda: _release(run_id))
        log.error("job %s period %s failed after %.2f s: %s", spec.id, period, seconds, type(error).__name__)
        log.debug("job %s period %s traceback", spec.id, period, exc_info=True)
        return RunOutcome(spec.id, period, "failed", seconds=seconds)
    seconds = time.perf_counter() - started
    log.info("job %s period %s done in %.2f s: %s", spec.id, period, seconds, json.dumps(result, sort_keys=True))
    return RunOutcome(spec.id, period, "done", result, seconds)


def _claim(job_id: str, period: str) -> int | None:
    """Insert the period's JobRun row (committed) and return its id; None if the period is taken."""

    def insert() -> int:
        run = JobRun(job_id=job_id, period=period, started_at=utcnow())
        db.session.add(run)
        db.session.flush()
        return run.id

    try:
        return run_in_transaction(insert)
    except sa.exc.IntegrityError:
        return run_in_transaction(lambda: _take_over_stale(job_id, period))


def _take_over_stale(job_id: str, period: str) -> int | None:
    """Take over the period's unfinished run if it started longer ago than the stale timeout."""
    cutoff = utcnow() - timedelta(seconds=current_app.config["SCHEDULER_STALE_RUN_SECONDS"])
    taken = db.session.execute(
        sa.update(JobRun)
        .where(JobRun.job_id == job_id, JobRun.period == period, JobRun.finished_at.is_(None),
               JobRun.started_at < cutoff)
        .values(started_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if taken != 1:
        return None
    log.warning("job %s period %s: taking over a run that started before %s and never finished",
                job_id, period, cutoff.isoformat(timespec="seconds"))
    return db.session.scalar(sa.select(JobRun.id).where(JobRun.job_id == job_id, JobRun.period == period))


def _release(run_id: int) -> None:
    """Delete an unfinished claim so its period can be run again."""
    db.session.execute(
        sa.delete(JobRun).where(JobRun.id == run_id, JobRun.finished_at.is_(None))
        .execution_options(synchronize_session=False)
    )
