"""CLI: `flask worker` (the task queue's consumer: runs background jobs; one beside the scheduler is enough)."""
from __future__ import annotations

import logging
import os
import threading

import click
from flask import Flask, current_app

from socialforce.matching import index as matching_index

log = logging.getLogger("socialforce.worker")


def init_app(app: Flask) -> None:
    """Register the worker command."""
    app.cli.add_command(worker_command)


def _recover_loop(app: Flask, every: float, stop: threading.Event) -> None:
    """Re-queue jobs of dead workers now and every `every` seconds (every worker does; the UPDATEs are atomic)."""
    from socialforce.platform.worker.runner import recover

    while True:
        try:
            with app.app_context():
                recover()
        except Exception:  # noqa: BLE001 - recovery is retried at the next round
            log.warning("job recovery failed; retrying in %.0f s", every, exc_info=True)
        if stop.wait(every):
            return


@click.command("worker")
@click.option("--threads", type=click.IntRange(1, 8), default=1, show_default=True,
              help="Jobs run at once by this process.")
@click.option("--nice", type=click.IntRange(0, 19), default=10, show_default=True,
              help="Lower this process's CPU priority by this much, so pages stay fast while a job runs.")
def worker_command(threads: int, nice: int) -> None:
    """Run background jobs from the task queue (SQLite file in the instance folder, or Redis with QUEUE_URL)."""
    if nice:
        os.nice(nice)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = current_app._get_current_object()
    huey = app.extensions["huey"]
    if huey.immediate:
        raise click.ClickException("QUEUE_IMMEDIATE is set: jobs run in the web process, no worker is needed")
    matching_index.THREADS = max(1, int(app.config["MATCH_THREADS"]))
    stop = threading.Event()
    every = max(float(app.config["JOB_LEASE_SECONDS"]) / 2, 0.5)
    threading.Thread(target=_recover_loop, args=(app, every, stop), name="job-recovery", daemon=True).start()
    log.info("worker started on %s with %s thread(s), matching on %s thread(s)", type(huey.storage).__name__,
             threads, matching_index.THREADS)
    consumer = huey.create_consumer(workers=threads, worker_type="thread", periodic=False, initial_delay=0.1,
                                    backoff=1.15, max_delay=1.0)
    try:
        consumer.run()
    finally:
        stop.set()
