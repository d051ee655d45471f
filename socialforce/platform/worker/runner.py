"""Run one background job at most once at a time, and recover jobs whose worker died.

1. Claim: one conditional UPDATE queued -> running (attempts + 1, this worker's name). A message delivered twice,
   or a job re-queued while its first message still waits, runs once: the second claim finds it running.
2. Run the kind's handler and stamp done (result, last progress) in ONE transaction with the handler's writes;
   the stamp is fenced by (worker, attempt), so a worker that lost its lease rolls its whole work back.
3. A handler's ServiceError marks the job failed with its message; any other error with a generic one (the
   traceback goes to the log, never a parameter or a value).

Heartbeat: while a job runs, a thread stores its pulse (progress + time) every JOB_HEARTBEAT_SECONDS in the
queue's store. `recover` (run by every worker at start and every JOB_LEASE_SECONDS / 2) finds running jobs whose
pulse is older than JOB_LEASE_SECONDS: the worker was killed (kill -9, power, OOM), its transaction rolled back,
so nothing of the job was kept; the job is re-queued, or failed with that reason after JOB_MAX_ATTEMPTS.
It also re-sends queued jobs whose message was lost (taken by a worker that died before claiming).
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from socialforce.platform import queue
from socialforce.platform.extensions import db
from socialforce.platform.models import BackgroundJob, JobState, User, utcnow
from socialforce.platform.services import ServiceError
from socialforce.platform.services.background import WORKER_LOST, RunningJob, Waiting
from socialforce.platform.transactions import run_in_transaction
from socialforce.platform.worker.kinds import handler_for

log = logging.getLogger("socialforce.worker")


class LeaseLost(Exception):
    """The job is no longer this worker's (it was re-queued after its heartbeat went stale)."""


def worker_name() -> str:
    """This process and thread, as stored on the jobs it runs."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{threading.get_ident() % 100000}"


def _claim(job_id: int, worker: str) -> int | None:
    """Take a queued job for this worker; its attempt number, or None if it is not queued."""

    def work() -> int | None:
        taken = db.session.execute(
            sa.update(BackgroundJob)
            .where(BackgroundJob.id == job_id, BackgroundJob.state == JobState.queued)
            .values(state=JobState.running, attempts=BackgroundJob.attempts + 1, worker=worker,
                    started_at=utcnow(), error=None)
            .execution_options(synchronize_session=False)
        ).rowcount
        return db.session.scalar(sa.select(BackgroundJob.attempts).where(BackgroundJob.id == job_id)) \
            if taken == 1 else None

    return run_in_transaction(work)


def _stamp(job: RunningJob, worker: str, state: JobState, **values) -> None:
    """Stamp the end of this worker's attempt (in the caller's transaction); LeaseLost if it is not ours any more."""
    stamped = db.session.execute(
        sa.update(BackgroundJob)
        .where(BackgroundJob.id == job.id, BackgroundJob.state == JobState.running,
               BackgroundJob.worker == worker, BackgroundJob.attempts == job.attempt)
        .values(**{"state": state, "finished_at": utcnow(), "phase": job.phase[:40], "done": job.done,
                   "total": job.total, **values})
        .execution_options(synchronize_session=False)
    ).rowcount
    if stamped != 1:
        raise LeaseLost(job.id)


class _Heartbeat:
    """A thread storing the job's pulse every JOB_HEARTBEAT_SECONDS until stopped."""

    def __init__(self, job: RunningJob, seconds: float):
        self.job, self.seconds = job, seconds
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"heartbeat-{job.id}", daemon=True)

    def _run(self) -> None:
        while not self.stopped.wait(self.seconds):
            try:
                self.job.beat()
            except Exception:  # noqa: BLE001 - a missed beat is retried; the lease allows several
                log.warning("job %s: heartbeat not stored", self.job.id)

    def __enter__(self):
        self.job.beat()
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)


def execute(job_id: int) -> str:
    """Claim and run one job; returns its final state ('done', 'failed' or 'waiting' for its parts), or 'skipped'
    if not claimed."""
    worker = worker_name()
    attempt = _claim(job_id, worker)
    if attempt is None:
        log.info("job %s skipped: not queued (already taken or ended)", job_id)
        return "skipped"
    row = db.session.get(BackgroundJob, job_id)
    owner = db.session.get(User, row.owner_id) if row.owner_id else None
    job = RunningJob(id=row.id, kind=row.kind, params=dict(row.params or {}), owner=owner, attempt=attempt)
    handler = handler_for(job.kind)
    db.session.rollback()
    started = time.perf_counter()
    log.info("job %s %s attempt %s started", job.id, job.kind, attempt)

    def work() -> dict | Waiting:
        result = handler.run(job)
        if isinstance(result, Waiting):  # split into part jobs: wait for them (a fresh count of attempts to merge)
            job.phase, job.done, job.total = result.phase, 0, result.parts
            _stamp(job, worker, JobState.waiting, finished_at=None, attempts=0)
            return result
        result = dict(result or {})
        _stamp(job, worker, JobState.done, result=result)
        return result

    try:
        with _Heartbeat(job, float(current_app.config["JOB_HEARTBEAT_SECONDS"])):
            result = run_in_transaction(work)
    except LeaseLost:
        log.warning("job %s: lease lost (re-queued elsewhere); this attempt's writes were rolled back", job.id)
        return "skipped"
    except ServiceError as error:
        return _fail(job, worker, handler, error.message)
    except Exception as error:  # noqa: BLE001 - a failing job must never stop the worker
        log.error("job %s %s failed: %s", job.id, job.kind, type(error).__name__)
        log.debug("job %s traceback", job.id, exc_info=True)
        return _fail(job, worker, handler, _("The job failed with an unexpected error; nothing of it was kept."))
    finally:
        queue.clear_pulse(job.id)
    if isinstance(result, Waiting):
        log.info("job %s %s waits for its %s parts", job.id, job.kind, result.parts)
        return "waiting"
    if handler.after is not None:
        handler.after(job, result)
    log.info("job %s %s done in %.2f s", job.id, job.kind, time.perf_counter() - started)
    return "done"


def _fail(job: RunningJob, worker: str, handler, message: str) -> str:
    try:
        run_in_transaction(lambda: _stamp(job, worker, JobState.failed, error=message[:2000]))
    except LeaseLost:
        return "skipped"
    if handler.failed is not None:
        handler.failed(job, message)
    return "failed"


def recover(now: float | None = None) -> dict:
    """Re-queue (or fail, after JOB_MAX_ATTEMPTS) running jobs whose heartbeat is stale; re-send lost messages."""
    now = time.time() if now is None else now
    lease = float(current_app.config["JOB_LEASE_SECONDS"])
    max_attempts = int(current_app.config["JOB_MAX_ATTEMPTS"])
    requeued, failed, resent = [], [], []
    running = db.session.execute(
        sa.select(BackgroundJob.id, BackgroundJob.attempts, BackgroundJob.started_at, BackgroundJob.kind)
        .where(BackgroundJob.state == JobState.running)).all()
    db.session.rollback()
    for job_id, attempts, started_at, kind in running:
        pulse = queue.read_pulse(job_id)
        last = pulse["beat"] if pulse else (started_at.replace(tzinfo=UTC).timestamp() if started_at else 0.0)
        if now - last <= lease:
            continue
        if attempts < max_attempts:
            if _requeue(job_id, attempts):
                requeued.append(job_id)
        elif _give_up(job_id, attempts, kind):
            failed.append(job_id)
    waiting = db.session.scalars(
        sa.select(BackgroundJob.id).where(BackgroundJob.state == JobState.queued,
                                          BackgroundJob.created_at < _ago(lease))).all()
    db.session.rollback()
    if waiting:
        pending = queue.pending_job_ids()
        for job_id in waiting:
            if job_id not in pending:
                queue.enqueue_now(job_id)
                resent.append(job_id)
    if requeued or failed or resent:
        log.warning("recovered jobs: re-queued %s, failed %s, re-sent %s", requeued, failed, resent)
    return {"requeued": requeued, "failed": failed, "resent": resent}


def _ago(seconds: float) -> datetime:
    return utcnow() - timedelta(seconds=seconds)


def _requeue(job_id: int, attempts: int) -> bool:
    def work() -> bool:
        moved = db.session.execute(
            sa.update(BackgroundJob)
            .where(BackgroundJob.id == job_id, BackgroundJob.state == JobState.running,
                   BackgroundJob.attempts == attempts)
            .values(state=JobState.queued, worker=None)
            .execution_options(synchronize_session=False)
        ).rowcount == 1
        if moved:
            queue.enqueue_after_commit(job_id)
        return moved

    moved = _transaction_or_false(work)
    if moved:
        queue.clear_pulse(job_id)
        log.warning("job %s: worker lost during attempt %s; re-queued", job_id, attempts)
    return moved


def _give_up(job_id: int, attempts: int, kind: str) -> bool:
    reason = f"{WORKER_LOST}:{attempts}"

    def work() -> bool:
        return db.session.execute(
            sa.update(BackgroundJob)
            .where(BackgroundJob.id == job_id, BackgroundJob.state == JobState.running,
                   BackgroundJob.attempts == attempts)
            .values(state=JobState.failed, error=reason, finished_at=utcnow())
            .execution_options(synchronize_session=False)
        ).rowcount == 1

    if not _transaction_or_false(work):
        return False
    queue.clear_pulse(job_id)
    log.error("job %s: worker lost during attempt %s; failed", job_id, attempts)
    handler = handler_for(kind)
    if handler.failed is not None:
        row = db.session.get(BackgroundJob, job_id)
        handler.failed(RunningJob(id=job_id, kind=kind, params=dict(row.params or {}), owner=None,
                                  attempt=attempts), reason)
    return True


def _transaction_or_false(work) -> bool:
    """Run `work` in a transaction; a database still locked after the retries counts as 'not now'."""
    try:
        return run_in_transaction(work)
    except sa.exc.OperationalError:
        log.info("recovery postponed: the database is busy")
        return False
