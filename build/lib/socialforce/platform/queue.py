"""The task queue: Huey, embedded on a SQLite file in the instance folder by default, on Redis when configured.

`QUEUE_URL` (or `REDIS_URL`) = `redis://host:6379/0` puts the queue on Redis, so several machines' workers share
it; unset, the queue is `instance/queue.db` (SqliteHuey) and needs no server. The tests run it in Huey's
immediate mode (`QUEUE_IMMEDIATE`): a job runs in-process the moment its row is committed.

The queue carries only job ids; what a job is and how far it got live in the `background_jobs` table
(services/background.py). Huey hands a message to one worker and forgets it, so a worker killed mid-job loses
the message: the job row and the worker's heartbeat ("pulse", kept in the queue's own store next to the
messages, so writing it never waits for the application database) let another worker re-queue it.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

import sqlalchemy as sa
from flask import Flask, current_app
from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey

from socialforce.platform.extensions import db

log = logging.getLogger("socialforce.worker")
QUEUE_NAME = "socialforce"
TASK_NAME = "run_background_job"
_PENDING_KEY = "enqueue_background_jobs"


def build_huey(app: Flask) -> Huey:
    """The Huey instance the app's config asks for (immediate, Redis or the instance's SQLite file)."""
    url = app.config.get("QUEUE_URL") or ""
    if app.config.get("QUEUE_IMMEDIATE"):
        return MemoryHuey(QUEUE_NAME, immediate=True, results=False)
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisHuey(QUEUE_NAME, url=url, results=False)
    path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else str(
        Path(app.instance_path) / "queue.db")
    return SqliteHuey(QUEUE_NAME, filename=path, results=False, timeout=10)


def init_app(app: Flask) -> None:
    """Attach the queue and its one task (run a background job by id) to the app; enqueue jobs on commit."""
    huey = build_huey(app)

    def run_background_job(job_id: int) -> None:
        from socialforce.platform.worker.runner import execute

        with app.app_context():
            execute(job_id)

    app.extensions["huey"] = huey
    app.extensions["huey_task"] = huey.task(name=TASK_NAME)(run_background_job)
    if not sa.event.contains(sa.orm.Session, "after_commit", _enqueue_committed):
        sa.event.listen(sa.orm.Session, "after_commit", _enqueue_committed)
        sa.event.listen(sa.orm.Session, "after_rollback", _forget_uncommitted)


def huey() -> Huey:
    """The current app's queue."""
    return current_app.extensions["huey"]


def enqueue_after_commit(job_id: int) -> None:
    """Send the job to the queue once the current transaction commits (never if it rolls back)."""
    db.session().info.setdefault(_PENDING_KEY, []).append(job_id)


def enqueue_now(job_id: int) -> None:
    """Send the job to the queue at once (its row must already be committed)."""
    current_app.extensions["huey_task"](job_id)


def _enqueue_committed(session) -> None:
    for job_id in session.info.pop(_PENDING_KEY, []):
        try:
            enqueue_now(job_id)
        except Exception:  # noqa: BLE001 - the row is committed: a worker's recovery re-sends a lost message
            log.warning("job %s committed but not sent to the queue; recovery will send it", job_id)


def _forget_uncommitted(session) -> None:
    session.info.pop(_PENDING_KEY, None)


def pending_job_ids() -> set[int]:
    """The job ids waiting in the queue (not yet taken by a worker)."""
    return {task.args[0] for task in huey().pending() if task.args}


def put_pulse(job_id: int, pulse: dict, store: Huey | None = None) -> None:
    """Store a running job's progress and heartbeat (the queue's store: cheap, never blocked by the database);
    `store` is the app's queue for a thread without an app context (the heartbeat)."""
    (store or huey()).put(f"job:{job_id}", {**pulse, "beat": time.time()})


def read_pulse(job_id: int) -> dict | None:
    """A running job's last progress and heartbeat (`beat`, seconds since the epoch), if any."""
    return huey().get(f"job:{job_id}", peek=True)


def clear_pulse(job_id: int) -> None:
    """Forget a job's pulse once it has ended."""
    huey().delete(f"job:{job_id}")
