"""The scheduler: periods, idempotent runs (JobRun), crash takeover, the lease, job registration, two OS processes."""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from socialforce.platform.extensions import db
from socialforce.platform.models import (
    AuditLog,
    JobRun,
    OutboxMessage,
    OutboxStatus,
    Role,
    SchedulerLease,
    utcnow,
)
from socialforce.platform.scheduler import lease
from socialforce.platform.scheduler.jobs import JOBS, JobSpec, load_jobs, period_key
from socialforce.platform.scheduler.process import LEASE_JOB_ID, SchedulerProcess, register_jobs
from socialforce.platform.scheduler.runner import run_job
from socialforce.platform.services import accounts, notifications

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 29, 2, 5, 30)  # 10:05:30 in Shanghai


# --- test jobs (also used by the scheduler subprocesses through SOCIALFORCE_SCHEDULER_JOBS) ----------------------


def tick(now: datetime) -> dict:
    """A side effect per run: one audit row naming the process and the period."""
    period = period_key("second", now)
    db.session.add(AuditLog(action="scheduler_tick", detail={"pid": os.getpid(), "period": period}))
    db.session.flush()
    return {"pid": os.getpid()}


def explode(now: datetime) -> dict:
    """Writes, then fails: its write must be rolled back."""
    db.session.add(AuditLog(action="scheduler_explode"))
    db.session.flush()
    raise RuntimeError("boom")


FAST_JOBS = [JobSpec("tick", "tests.platform.test_scheduler:tick", {"second": "*"}, "second", 1)]
TICK = JobSpec("tick_minute", "tests.platform.test_scheduler:tick", {"minute": "*"}, "minute", 50)


@pytest.fixture(autouse=True)
def _loggers_enabled():
    """Alembic's fileConfig (run by the app fixture's upgrade) disables loggers created before it; undo that."""
    for name in ("socialforce.scheduler", "socialforce.notifications"):
        logging.getLogger(name).disabled = False


def count(model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


# --- periods --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("cadence", "expected"), [
    ("second", "2026-11-29T10:05:30"), ("minute", "2026-11-29T10:05"), ("10min", "2026-11-29T10:00"),
    ("hour", "2026-11-29T10"), ("day", "2026-11-29"), ("week", "2026-W48"), ("month", "2026-11"),
])
def test_periods_are_derived_from_now_in_shanghai(cadence, expected):
    assert period_key(cadence, NOW) == expected


def test_a_day_period_follows_the_shanghai_date():
    assert period_key("day", datetime(2026, 11, 28, 16, 30)) == "2026-11-29"  # 00:30 on the 29th in Shanghai
    assert period_key("week", datetime(2027, 1, 3, 17, 0)) == "2027-W01"  # Monday 4 Jan 2027, 01:00 local


# --- idempotent runs ------------------------------------------------------------------------------------------


def test_a_job_run_twice_for_one_period_applies_once():
    first = run_job(TICK, NOW)
    second = run_job(TICK, NOW + timedelta(seconds=20))  # same minute
    assert (first.status, second.status) == ("done", "skipped")
    assert count(AuditLog, AuditLog.action == "scheduler_tick") == 1
    run = db.session.scalar(sa.select(JobRun).where(JobRun.job_id == "tick_minute"))
    assert run.period == "2026-11-29T10:05" and run.finished_at is not None and run.result == {"pid": os.getpid()}
    assert run_job(TICK, NOW + timedelta(minutes=1)).status == "done"
    assert count(AuditLog, AuditLog.action == "scheduler_tick") == 2


def test_deliver_pending_run_twice_in_one_minute_sends_once(caplog):
    user = accounts.create_user("cityx", "pw-123456", Role.city_staff, "City X")
    notifications.notify([user.id], "order_expired", {"order_id": 7})
    db.session.commit()
    spec = next(s for s in JOBS if s.id == "deliver_notifications")
    with caplog.at_level(logging.INFO, logger="socialforce"):
        now = utcnow()
        assert run_job(spec, now).status == "done"
        assert run_job(spec, now).status == "skipped"
    sent_lines = [r for r in caplog.records if "notification for user" in r.getMessage()]
    assert len(sent_lines) == 1
    assert db.session.scalar(sa.select(OutboxMessage.status)) == OutboxStatus.sent
    assert count(JobRun, JobRun.job_id == "deliver_notifications") == 1


def test_a_missing_job_function_logs_and_skips(caplog):
    spec = JobSpec("ghost", "socialforce.platform.services.nowhere:nothing", {"minute": "*"}, "minute", 50)
    with caplog.at_level(logging.ERROR, logger="socialforce.scheduler"):
        outcome = run_job(spec, NOW)
    assert outcome.status == "missing"
    assert "ghost" in caplog.text
    assert count(JobRun) == 0


def test_a_failing_job_is_rolled_back_and_its_period_can_run_again(caplog):
    spec = JobSpec("explode", "tests.platform.test_scheduler:explode", {"minute": "*"}, "minute", 50)
    with caplog.at_level(logging.ERROR, logger="socialforce.scheduler"):
        assert run_job(spec, NOW).status == "failed"
    assert "RuntimeError" in caplog.text and "boom" not in caplog.text
    assert count(AuditLog, AuditLog.action == "scheduler_explode") == 0
    assert count(JobRun) == 0
    assert run_job(spec, NOW).status == "failed"  # retried, not skipped


def test_an_unfinished_run_is_taken_over_only_when_stale(app):
    period = TICK.period(NOW)
    db.session.add(JobRun(job_id=TICK.id, period=period, started_at=utcnow() - timedelta(seconds=60)))
    db.session.commit()
    assert run_job(TICK, NOW).status == "skipped"  # younger than the stale timeout: still running
    db.session.execute(sa.update(JobRun).values(
        started_at=utcnow() - timedelta(seconds=app.config["SCHEDULER_STALE_RUN_SECONDS"] + 1)))
    db.session.commit()
    assert run_job(TICK, NOW).status == "done"
    assert count(JobRun) == 1
    assert count(AuditLog, AuditLog.action == "scheduler_tick") == 1


# --- the lease ------------------------------------------------------------------------------------------------


def test_only_one_holder_until_the_lease_expires():
    now = utcnow()
    assert lease.acquire("t", "a", now, 60)
    assert not lease.acquire("t", "b", now + timedelta(seconds=30), 60)
    assert lease.acquire("t", "a", now + timedelta(seconds=40), 60)  # renewal
    assert not lease.acquire("t", "b", now + timedelta(seconds=90), 60)
    assert lease.acquire("t", "b", now + timedelta(seconds=101), 60)  # a's lease ran out at now+100
    assert lease.holds("t", "b", now + timedelta(seconds=101))
    assert not lease.holds("t", "a", now + timedelta(seconds=101))
    lease.release("t", "b", now + timedelta(seconds=102))
    assert lease.acquire("t", "a", now + timedelta(seconds=102), 60)
    assert count(SchedulerLease) == 1


def test_a_process_without_the_lease_runs_nothing(app):
    holder = SchedulerProcess(app, [TICK], holder="holder")
    standby = SchedulerProcess(app, [TICK], holder="standby")
    holder.renew_lease()
    standby.renew_lease()
    assert (holder.holding, standby.holding) == (True, False)
    standby.run(TICK)
    assert count(JobRun) == 0
    holder.run(TICK)
    assert count(JobRun) == 1


def test_gaining_the_lease_fires_jobs_whose_time_in_this_period_has_passed(app):
    year_end = JobSpec("year_end", "tests.platform.test_scheduler:tick",
                       {"month": 12, "day": 31, "hour": 23, "minute": 59}, "month", 3600)
    process = SchedulerProcess(app, [TICK, year_end], holder="holder")
    process.renew_lease()
    assert process.holding
    caught_up = process.scheduler.get_job("tick_minute")
    assert caught_up.next_run_time <= datetime.now(caught_up.trigger.timezone)
    assert not hasattr(process.scheduler.get_job("year_end"), "next_run_time")  # left to its trigger


# --- registration ---------------------------------------------------------------------------------------------


def test_every_job_is_registered_with_misfire_grace_coalesce_and_one_instance(app):
    process = SchedulerProcess(app, JOBS)
    jobs = {job.id: job for job in process.scheduler.get_jobs()}
    assert set(jobs) == {spec.id for spec in JOBS} | {LEASE_JOB_ID}
    for spec in JOBS:
        job = jobs[spec.id]
        assert job.misfire_grace_time == spec.misfire_grace_time and job.misfire_grace_time >= 30
        assert job.coalesce is True and job.max_instances == 1
        assert str(job.trigger.timezone) == "Asia/Shanghai"
    assert jobs[LEASE_JOB_ID].coalesce is True and jobs[LEASE_JOB_ID].max_instances == 1
    assert len({spec.func for spec in JOBS}) == len(JOBS) == 12


def test_reregistering_replaces_jobs_and_removes_stale_ones(app):
    process = SchedulerProcess(app, [TICK])
    process.scheduler.add_job(print, "interval", minutes=5, id="retired_job")
    register_jobs(process.scheduler, [TICK], process.run, keep=frozenset({LEASE_JOB_ID}))
    assert {job.id for job in process.scheduler.get_jobs()} == {"tick_minute", LEASE_JOB_ID}


def test_the_job_list_rejects_duplicate_ids(monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "DUPES", [TICK, TICK], raising=False)
    with pytest.raises(ValueError, match="tick_minute"):
        load_jobs(f"{__name__}:DUPES")


# --- the CLI --------------------------------------------------------------------------------------------------


def test_run_job_command_runs_once_per_period(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["run-job", "sweep_overdue", "--now", "2026-11-29T10:05:00+08:00"])
    second = runner.invoke(args=["run-job", "sweep_overdue", "--now", "2026-11-29T02:05:40"])
    assert first.exit_code == 0, first.output
    assert "sweep_overdue 2026-11-29T10:05: done" in first.output
    assert "2026-11-29T10:05: skipped" in second.output
    unknown = runner.invoke(args=["run-job", "no_such_job"])
    assert unknown.exit_code != 0 and "sweep_overdue" in unknown.output
    bad_time = runner.invoke(args=["run-job", "sweep_overdue", "--now", "yesterday"])
    assert bad_time.exit_code != 0 and "ISO 8601" in bad_time.output


# --- two real scheduler processes -----------------------------------------------------------------------------


def _ticks() -> list[tuple[int, str]]:
    db.session.rollback()
    rows = db.session.scalars(sa.select(AuditLog.detail).where(AuditLog.action == "scheduler_tick")).all()
    return [(row["pid"], row["period"]) for row in rows]


def _wait_for(predicate, timeout: float, step: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


@pytest.mark.slow
def test_two_scheduler_processes_never_double_run_and_the_standby_takes_over(app, tmp_path):
    env = {**os.environ, "SOCIALFORCE_ENV": "testing", "DATABASE_URL": str(app.config["SQLALCHEMY_DATABASE_URI"]),
           "SOCIALFORCE_SCHEDULER_JOBS": "tests.platform.test_scheduler:FAST_JOBS",
           "SCHEDULER_LEASE_SECONDS": "3", "SCHEDULER_RENEW_SECONDS": "0.5", "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "flask", "--app", "socialforce", "scheduler"]
    logs = [tmp_path / f"scheduler{i}.log" for i in range(2)]
    procs = []
    for log in logs:
        with log.open("w") as stderr:
            procs.append(subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=stderr))
    output = lambda: "\n".join(log.read_text() for log in logs)  # noqa: E731
    try:
        pids = {p.pid for p in procs}
        started = _wait_for(lambda: output().count("starting with 1 jobs") == 2 and _ticks(), 60)
        assert started, f"the schedulers did not both start:\n{output()}"
        time.sleep(3)
        before = _ticks()
        holders = {pid for pid, _ in before}
        assert len(holders) == 1 and holders <= pids, f"ticks from several processes: {Counter(before)}"
        assert max(Counter(period for _, period in before).values()) == 1
        assert len(before) >= 2
        holder_pid = holders.pop()
        standby_pid = (pids - {holder_pid}).pop()
        assert all(p.poll() is None for p in procs), output()

        os.kill(holder_pid, signal.SIGKILL)
        killed_at = time.monotonic()
        took_over = _wait_for(lambda: any(pid == standby_pid for pid, _ in _ticks()), 15, step=0.1)
        takeover = time.monotonic() - killed_at
        assert took_over, f"the standby never took over:\n{output()}"
        assert takeover < 3 + 0.5 + 4, takeover  # lease + renewal interval + slack for a loaded machine
        time.sleep(1.5)
        after = _ticks()
        assert {pid for pid, _ in after} == pids
        assert max(Counter(period for _, period in after).values()) == 1, "a period ran twice"
        assert count(JobRun, JobRun.job_id == "tick") == len(after)
        print(f"standby took over {takeover:.1f} s after kill -9 of the holder (lease 3 s, renewal 0.5 s)")
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
