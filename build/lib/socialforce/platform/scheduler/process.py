"""The scheduler process: an APScheduler 3 BlockingScheduler whose jobs run only while this process holds the lease.

Every process started with `flask scheduler` schedules the same jobs, renews (or tries to take) the lease every
SCHEDULER_RENEW_SECONDS, and skips a due job unless it holds an unexpired lease; so a second process is a standby
that takes over when the holder's lease expires (the holder died) or is released (clean shutdown). JobRun's unique
(job_id, period) key is the second line of defence. On gaining the lease a process runs, once, every job whose
firing in the current period is already past (catch-up after a restart or a takeover; a period that already ran is
skipped by its JobRun row). The job store is in memory: APScheduler 3 cannot share a job store between processes.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import uuid
from collections.abc import Callable
from datetime import UTC

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from flask import Flask

from socialforce.platform.localtime import LOCAL_TZ
from socialforce.platform.models import utcnow
from socialforce.platform.scheduler import lease
from socialforce.platform.scheduler.jobs import JobSpec, period_start
from socialforce.platform.scheduler.runner import run_job

log = logging.getLogger("socialforce.scheduler")
LEASE_NAME = "scheduler"
LEASE_JOB_ID = "_lease"


def register_jobs(scheduler: BaseScheduler, specs: list[JobSpec], run: Callable[[JobSpec], None],
                  keep: frozenset[str] = frozenset()) -> None:
    """Add or replace every job of the list under its stable id and remove any other job (except `keep`)."""
    for spec in specs:
        scheduler.add_job(run, CronTrigger(timezone=LOCAL_TZ, **spec.cron), args=[spec], id=spec.id,
                          name=spec.id, replace_existing=True, misfire_grace_time=spec.misfire_grace_time,
                          coalesce=True, max_instances=1)
    wanted = {spec.id for spec in specs} | keep
    for job in scheduler.get_jobs():
        if job.id not in wanted:
            scheduler.remove_job(job.id)
            log.info("removed stale job %s", job.id)


def _stop(_signum, _frame) -> None:
    raise SystemExit(0)


class SchedulerProcess:
    """One scheduler process: the job list on a BlockingScheduler, gated by the lease."""

    def __init__(self, app: Flask, specs: list[JobSpec], holder: str | None = None):
        self.app = app
        self.specs = list(specs)
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.lease_seconds = float(app.config["SCHEDULER_LEASE_SECONDS"])
        self.renew_seconds = float(app.config["SCHEDULER_RENEW_SECONDS"])
        self.holding = False
        self.scheduler = BlockingScheduler(
            timezone=LOCAL_TZ,
            executors={"default": ThreadPoolExecutor(len(self.specs) + 2)},
            job_defaults={"coalesce": True, "max_instances": 1},
        )
        register_jobs(self.scheduler, self.specs, self.run, keep=frozenset({LEASE_JOB_ID}))
        self.scheduler.add_job(self.renew_lease, "interval", seconds=self.renew_seconds, id=LEASE_JOB_ID,
                               name=LEASE_JOB_ID, replace_existing=True, coalesce=True, max_instances=1,
                               misfire_grace_time=max(1, int(self.renew_seconds)))

    def run(self, spec: JobSpec) -> None:
        """Run a due job if this process holds the lease (APScheduler calls this in a worker thread)."""
        with self.app.app_context():
            now = utcnow()
            if lease.holds(LEASE_NAME, self.holder, now):
                run_job(spec, now)

    def renew_lease(self) -> None:
        """Renew or try to take the lease; on gaining it, catch up the current periods."""
        with self.app.app_context():
            held = lease.acquire(LEASE_NAME, self.holder, utcnow(), self.lease_seconds)
        if held and not self.holding:
            log.info("scheduler %s holds the lease", self.holder)
            self.catch_up()
        elif not held and self.holding:
            log.warning("scheduler %s lost the lease; standing by", self.holder)
        elif not held:
            log.debug("scheduler %s standing by", self.holder)
        self.holding = held

    def catch_up(self) -> None:
        """Fire now every job whose firing time in the current period has passed (its JobRun decides)."""
        now = utcnow()
        now_local = now.replace(tzinfo=UTC).astimezone(LOCAL_TZ)
        for spec in self.specs:
            job = self.scheduler.get_job(spec.id)
            fire = job.trigger.get_next_fire_time(None, period_start(spec.cadence, now))
            if fire is not None and fire <= now_local:
                job.modify(next_run_time=now_local)

    def start(self) -> None:
        """Take the lease if free, then schedule until SIGTERM/SIGINT; release the lease on the way out."""
        signal.signal(signal.SIGTERM, _stop)
        log.info("scheduler %s starting with %d jobs", self.holder, len(self.specs))
        try:
            self.renew_lease()
            self.scheduler.start()
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            if self.scheduler.running:
                self.scheduler.shutdown(wait=True)
            if self.holding:
                with self.app.app_context():
                    lease.release(LEASE_NAME, self.holder, utcnow())
            log.info("scheduler %s stopped", self.holder)

