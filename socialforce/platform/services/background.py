"""Long work as background jobs: submit one, report its progress, read its status; one path for every kind.

A job is a `background_jobs` row (kind, owner, parameters holding ids only, state, progress, result or error) plus
one message on the task queue (platform/queue.py) carrying its id. `submit` records the row and the message goes
out only when the caller's transaction commits. The worker (platform/worker/) claims the row with one
conditional UPDATE (queued -> running, so a message delivered twice runs once), reports progress through
`progress` (throttled, into the queue's store), and stamps done or failed in the same transaction as the job's
own writes. Only the owner and city staff see a job.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask_babel import gettext as _

from socialforce.platform import queue, scoping
from socialforce.platform.extensions import db
from socialforce.platform.models import BackgroundJob, JobState, Role, User, utcnow

PROGRESS_INTERVAL_S = 1.0
KINDS = ("import_preview", "import_confirm", "dispatch_batch", "match_part", "retrain_ranker", "export_table")
ENDED = (JobState.done, JobState.failed)
WORKER_LOST = "worker_lost"
PART_FAILED = "part_failed"  # "part_failed:<part number>:<the part's error>" on a partitioned batch


def submit(kind: str, user: User | None, subject: str | None = None, **params) -> BackgroundJob:
    """Record a queued job (ids only in `params`) and send it to the worker when the caller commits."""
    if kind not in KINDS:
        raise ValueError(f"unknown job kind {kind!r}")
    job = BackgroundJob(kind=kind, owner_id=user.id if user else None, subject=subject, params=params,
                        state=JobState.queued, phase="", done=0, total=0, attempts=0, created_at=utcnow())
    db.session.add(job)
    db.session.flush()
    queue.enqueue_after_commit(job.id)
    return job


def _visible(user: User) -> sa.ColumnElement[bool]:
    """Jobs the user may see: their own; county staff every job of their county's accounts and the system's."""
    if user.role == Role.city_staff:
        return sa.or_(BackgroundJob.owner_id.is_(None),
                      BackgroundJob.owner_id.in_(sa.select(User.id).where(scoping.user_filter(user))))
    return BackgroundJob.owner_id == user.id


def get_job(job_id: int, user: User) -> BackgroundJob | None:
    """The job if the user may see it (None for anyone else's or an unknown id)."""
    return db.session.scalar(sa.select(BackgroundJob).where(BackgroundJob.id == job_id, _visible(user)))


def jobs_query(user: User) -> sa.Select:
    """The jobs the user may see, newest first (for the "my jobs" list)."""
    return sa.select(BackgroundJob).where(_visible(user)).order_by(BackgroundJob.id.desc())


def latest_for(subject: str, user: User) -> BackgroundJob | None:
    """The newest job the user may see about `subject` (e.g. an upload's token)."""
    return db.session.scalar(jobs_query(user).where(BackgroundJob.subject == subject).limit(1))


def error_text(job: BackgroundJob) -> str:
    """Why a job failed, in the user's language."""
    error = job.error or ""
    if error.startswith(WORKER_LOST):
        return _("The worker stopped during this job (tried %(n)s times); nothing of it was kept. Start it again.",
                 n=error.split(":")[1] if error.count(":") else job.attempts)
    if error.startswith(PART_FAILED):
        _prefix, part, reason = (error.split(":", 2) + ["", ""])[:3]
        if reason.startswith(WORKER_LOST):
            reason = _("its worker stopped (tried %(n)s times)", n=reason.split(":")[-1])
        return _("Part %(n)s of this batch failed, so nothing was dispatched: %(reason)s", n=part, reason=reason)
    return error


def as_status(job: BackgroundJob) -> dict:
    """A job's state and progress for pages and the JSON status endpoint (live progress while it runs)."""
    phase, done, total = job.phase, job.done, job.total
    if job.state == JobState.running:
        pulse = queue.read_pulse(job.id) or {}
        phase, done, total = pulse.get("phase", phase), pulse.get("done", done), pulse.get("total", total)
    percent = 100 if job.state == JobState.done else (min(99, int(100 * done / total)) if total else 0)
    # waiting: done / total are its parts done of all (written by each part as it ends)
    return {"id": job.id, "kind": job.kind, "state": str(job.state), "phase": phase or "", "done": done,
            "total": total, "percent": percent, "attempts": job.attempts,
            "error": error_text(job) if job.state == JobState.failed else None,
            "result": {k: v for k, v in (job.result or {}).items() if k != "file"}
            if job.state == JobState.done else None}


def status(job_id: int, user: User) -> dict | None:
    """The status of a job the user may see (None otherwise)."""
    job = get_job(job_id, user)
    return as_status(job) if job is not None else None


@dataclass(frozen=True)
class Waiting:
    """A handler's answer "split into part jobs, wait for them": the runner stamps the job waiting (its parts are
    committed with that stamp) with `parts` as its total; the last part queues it again."""

    parts: int
    phase: str = "parts"


@dataclass
class RunningJob:
    """A job as its handler sees it in the worker: parameters, owner and a throttled progress reporter."""

    id: int
    kind: str
    params: dict
    owner: User | None
    attempt: int
    phase: str = ""
    done: int = 0
    total: int = 0
    _written_at: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _store: object = field(default=None)

    def __post_init__(self) -> None:
        self._store = queue.huey()  # the heartbeat thread has no app context: keep the queue at hand

    def report(self, phase: str, done: int, total: int) -> None:
        """Record progress; stored at most once a second, and whenever the phase changes or ends."""
        now = time.monotonic()
        with self._lock:
            changed = phase != self.phase
            self.phase, self.done, self.total = phase, done, total
            if not changed and now - self._written_at < PROGRESS_INTERVAL_S and not (total and done >= total):
                return
            self._written_at = now
        self.beat()

    def beat(self) -> None:
        """Store the progress with a fresh heartbeat."""
        with self._lock:
            pulse = {"phase": self.phase, "done": self.done, "total": self.total}
        queue.put_pulse(self.id, pulse, self._store)

    def callback(self) -> Callable[[str, int, int], None]:
        """`report` as a Progress(phase, done, total) callback."""
        return self.report


def progress(job: RunningJob, phase: str, done: int, total: int) -> None:
    """Report how far a running job got: rows `done` of `total` in `phase` (cheap; throttled)."""
    job.report(phase, done, total)
