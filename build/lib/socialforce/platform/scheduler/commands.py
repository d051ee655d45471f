"""CLI: `flask scheduler` (the scheduler process) and `flask run-job JOB_ID [--now ISO]` (one job, once)."""
from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import click
from flask import Flask, current_app

from socialforce.platform.models import utcnow
from socialforce.platform.scheduler.jobs import load_jobs
from socialforce.platform.scheduler.runner import run_job


def _configure_logging() -> None:
    """Log runs to stderr (unless the host configured logging); APScheduler's per-run chatter stays quiet."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def init_app(app: Flask) -> None:
    """Register the scheduler commands."""
    app.cli.add_command(scheduler_command)
    app.cli.add_command(run_job_command)


@click.command("scheduler")
def scheduler_command() -> None:
    """Run the job scheduler in this process (a second one stands by and takes over if this one dies)."""
    from socialforce.platform.scheduler.process import SchedulerProcess  # APScheduler loads only here

    _configure_logging()
    app = current_app._get_current_object()  # the app the flask CLI built: the only app used for scheduling
    SchedulerProcess(app, load_jobs(app.config["SCHEDULER_JOBS"])).start()


@click.command("run-job")
@click.argument("job_id")
@click.option("--now", "now_text", help="The job's clock, ISO 8601 (UTC unless an offset is given). Default: now.")
def run_job_command(job_id: str, now_text: str | None) -> None:
    """Run one scheduler job once for the period containing --now (skipped if that period already ran)."""
    _configure_logging()
    specs = {spec.id: spec for spec in load_jobs(current_app.config["SCHEDULER_JOBS"])}
    if job_id not in specs:
        raise click.BadParameter(f"unknown job {job_id!r}; choose one of {', '.join(sorted(specs))}",
                                 param_hint="JOB_ID")
    try:
        now = parse_now(now_text)
    except ValueError:
        raise click.BadParameter(f"not an ISO 8601 time: {now_text!r}", param_hint="--now") from None
    outcome = run_job(specs[job_id], now)
    click.echo(f"{outcome.job_id} {outcome.period}: {outcome.status}"
               + (f" in {outcome.seconds:.2f} s {json.dumps(outcome.result, sort_keys=True)}"
                  if outcome.status == "done" else ""))
    if outcome.status in ("failed", "missing"):
        raise click.ClickException(f"job {job_id} {outcome.status}; see the log")


def parse_now(text: str | None) -> datetime:
    """A naive-UTC time from ISO text (naive text is UTC; an offset is converted); None means now."""
    if not text:
        return utcnow()
    value = datetime.fromisoformat(text)
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
