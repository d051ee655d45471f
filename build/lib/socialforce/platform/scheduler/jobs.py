"""The scheduler's jobs in ONE list with stable ids (stale ids are removed from the scheduler at start).

Every job is a dotted path to a plain function `fn(now: datetime) -> dict` (naive UTC `now`, a small JSON-able
result), resolved only when it runs. Its cadence names the period one run covers ("2026-11-29T10:05" per minute,
"2026-11-29" per day, "2026-W48" per week, in Asia/Shanghai): at most one run per job and period (models.JobRun).
Cron fields are read in Asia/Shanghai. `misfire_grace_time` is how late (seconds) a run may still start; later
than that it is skipped and the next period covers the work (APScheduler's default of 1 s would skip silently).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from socialforce.platform.localtime import LOCAL_TZ

PERIOD_FORMATS = {
    "second": "%Y-%m-%dT%H:%M:%S",
    "minute": "%Y-%m-%dT%H:%M",
    "10min": "%Y-%m-%dT%H:%M",
    "hour": "%Y-%m-%dT%H",
    "day": "%Y-%m-%d",
    "month": "%Y-%m",
}
CADENCES = (*PERIOD_FORMATS, "week")


@dataclass(frozen=True)
class JobSpec:
    """One scheduled job: stable id, dotted function path, cron fields, cadence (period size), misfire grace."""

    id: str
    func: str
    cron: dict
    cadence: str
    misfire_grace_time: int

    def __post_init__(self) -> None:
        if self.cadence not in CADENCES:
            raise ValueError(f"job {self.id}: unknown cadence {self.cadence!r}")

    def period(self, now: datetime) -> str:
        """The period this job's run at `now` covers."""
        return period_key(self.cadence, now)


def period_start(cadence: str, now: datetime) -> datetime:
    """The start (aware, Asia/Shanghai) of the period containing the naive-UTC time `now`."""
    local = now.replace(tzinfo=UTC).astimezone(LOCAL_TZ).replace(microsecond=0)
    if cadence == "second":
        return local
    local = local.replace(second=0)
    if cadence == "minute":
        return local
    if cadence == "10min":
        return local.replace(minute=local.minute - local.minute % 10)
    local = local.replace(minute=0)
    if cadence == "hour":
        return local
    local = local.replace(hour=0)
    if cadence == "day":
        return local
    if cadence == "week":
        return local - timedelta(days=local.weekday())
    if cadence == "month":
        return local.replace(day=1)
    raise ValueError(f"unknown cadence {cadence!r}")


def period_key(cadence: str, now: datetime) -> str:
    """The period label, e.g. '2026-11-29T10:05' (minute), '2026-11-29' (day), '2026-W48' (week)."""
    start = period_start(cadence, now)
    if cadence == "week":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    return start.strftime(PERIOD_FORMATS[cadence])


def resolve(path: str):
    """The object named by 'package.module:attribute' (imported now, not at scheduler start)."""
    module_name, _, attribute = path.partition(":")
    if not attribute:
        raise ImportError(f"{path!r} is not of the form 'package.module:attribute'")
    return getattr(importlib.import_module(module_name), attribute)


def load_jobs(path: str) -> list[JobSpec]:
    """The job list named by a dotted path (config SCHEDULER_JOBS), checked for duplicate ids."""
    jobs = list(resolve(path))
    ids = [spec.id for spec in jobs]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"duplicate job ids in {path}: {', '.join(duplicates)}")
    return jobs


_SERVICES = "socialforce.platform.services"
MINUTE, HOUR, DAY = 60, 3600, 86400

JOBS: list[JobSpec] = [
    JobSpec("sweep_overdue", f"{_SERVICES}.dispatch:sweep_overdue", {"minute": "*"}, "minute", 50),
    JobSpec("deliver_notifications", f"{_SERVICES}.notifications:deliver_pending",
            {"minute": "*", "second": 30}, "minute", 50),
    JobSpec("sweep_waitlist_offers", f"{_SERVICES}.waitlist:sweep_expired", {"minute": "*", "second": 45},
            "minute", 50),
    JobSpec("send_feedback_links", f"{_SERVICES}.feedback_links:deliver_pending", {"minute": "*", "second": 40},
            "minute", 50),
    JobSpec("mark_missed_visits", f"{_SERVICES}.visits:mark_missed", {"minute": "*/10", "second": 15}, "10min",
            5 * MINUTE),
    JobSpec("refresh_dashboard_aggregates", f"{_SERVICES}.dashboard.aggregates:refresh",
            {"minute": "*/10", "second": 20}, "10min", 5 * MINUTE),
    JobSpec("send_visit_reminders", f"{_SERVICES}.visits:send_reminders", {"minute": 5}, "hour", 30 * MINUTE),
    JobSpec("generate_recurring_visits", f"{_SERVICES}.visits:generate_recurring_visits",
            {"hour": 1, "minute": 0}, "day", 6 * HOUR),
    JobSpec("rematch_open_items", f"{_SERVICES}.dispatch:rematch_open_items", {"hour": 2, "minute": 0}, "day",
            6 * HOUR),
    JobSpec("purge_one_time_codes", f"{_SERVICES}.one_time_codes:purge_expired", {"hour": 4, "minute": 10}, "day",
            6 * HOUR),
    JobSpec("generate_quota_visits", f"{_SERVICES}.quotas:generate_quota_visits",
            {"day": 1, "hour": 1, "minute": 30}, "month", 3 * DAY),
    JobSpec("retrain_ranker", f"{_SERVICES}.matching:retrain", {"day_of_week": "sun", "hour": 3, "minute": 0},
            "week", DAY),
]
