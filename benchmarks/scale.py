"""Scale test (issue #19): many processes on one PostgreSQL and one Redis, under load, with kill -9; ONE JSON line.

    python -m benchmarks.scale --counties 3 --scale 0.3 --users 100 --duration 300

0. DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/scale) and REDIS_URL (default
   redis://127.0.0.1:6379/7): when both name this machine, PostgreSQL and Redis are started unless they answer
   (deploy/local-servers, as CI does); the database is created if it does not exist.
1. Seeds `--counties` counties at `--scale` (`seed-demo`, on the empty database DATABASE_URL names) unless --no-seed.
2. Capacity curve: browsers only (benchmarks.load's page mix), 25, 50, 75... users for --step seconds each (after
   --warmup seconds not counted: the logins, every worker's first pages) against
   one gunicorn server, then against two on the same address, up to the first count whose pages p95 passes
   --knee-ms (300 ms). Users click every --think seconds on average, as in the run.
3. The run: two gunicorn servers (--web-workers each) on ONE address (SO_REUSEPORT: the kernel spreads the
   connections, as a proxy would), two queue workers and the scheduler; --users users in all, browsers of the four
   portals and API clients half and half, for --duration. Halfway a batch dispatch (the first county's open items)
   and a --households import are submitted to the workers; as soon as a queue worker runs one of them, that worker
   and one web worker process are killed with SIGKILL; a new queue worker replaces the dead one, as systemd would
   (Restart=always).
4. Checks after: every job done, each exactly once (the dispatch's orders = its result and no item with two live
   orders; households written = the workbook's); no job left running; the errors, split into those within
   --kill-window seconds of the kill (in-flight requests) and the others (must be 0).

The import's workbook has fixed household numbers: run the test on a fresh database (a second run's check finds
nothing new to import). --no-run stops after the capacity curve.

Every process gets JOB_LEASE_SECONDS=20 so a killed worker's job is taken over within a minute.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import sqlalchemy as sa

from benchmarks import load

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/scale"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/7"
KNEE_MS = 300.0
LEASE_SECONDS = "20"


def start_servers() -> None:
    """Start this machine's PostgreSQL and Redis unless they answer (deploy/local-servers), when the URLs name this
    machine, and create the database if it does not exist."""
    url = sa.engine.make_url(os.environ["DATABASE_URL"])
    if url.host in load.LOOPBACK and urlsplit(os.environ["REDIS_URL"]).hostname in load.LOOPBACK:
        subprocess.run([str(ROOT / "deploy" / "local-servers")], check=True)
    server = url.set(drivername="postgresql+psycopg", database="postgres")
    engine = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        if not connection.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": url.database}):
            connection.execute(sa.text(f'CREATE DATABASE "{url.database}"'))
    engine.dispose()


def _flask(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "socialforce", *args], env={**os.environ},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def settle(server: subprocess.Popen, timeout: float = 180.0) -> None:
    """Wait until a new server's workers have all loaded the app (its processes use under 0.2 s CPU in 2 s)."""
    deadline, last = time.monotonic() + timeout, load.server_cpu_s(server) or 0.0
    while time.monotonic() < deadline:
        time.sleep(2)
        now = load.server_cpu_s(server) or 0.0
        if now - last < 0.2:
            return
        last = now


def seed(counties: int, scale: float) -> dict:
    """Migrate and seed; the seconds it took."""
    started = time.perf_counter()
    for args in (["db", "upgrade"], ["seed-demo", "--counties", str(counties), "--scale", str(scale)]):
        subprocess.run([sys.executable, "-m", "flask", "--app", "socialforce", *args], env={**os.environ},
                       check=True, stdout=subprocess.DEVNULL)
    return {"counties": counties, "scale": scale, "seconds": round(time.perf_counter() - started, 1)}


def capacity(port: int, step: float, warmup: float, knee_ms: float, think: float) -> list[dict]:
    """Pages p95 for 25, 50, 75... users (of `step` seconds after `warmup` uncounted ones: the logins, each worker's
    first pages) until it passes `knee_ms` (or 400 users)."""
    curve = []
    for users in range(25, 401, 25):
        figures = load.run(users, step, think, "127.0.0.1", port, warmup=warmup)
        p95 = figures["pages"]["p95_ms"] or 0.0
        curve.append({"users": users, "pages_p95_ms": p95, "requests_per_s": figures["requests_per_s"],
                      "errors": figures["errors"]})
        if p95 > knee_ms:
            break
    return curve


class Jobs:
    """The batch dispatch and the import submitted beside the load, and what the database says after."""

    def __init__(self, households: int, workdir: str):
        from socialforce import create_app

        self.app = create_app()
        self.importer = load.BackgroundImport(households, workdir, worker=False)
        with self.app.app_context():
            self.households_before = self._count("households")
        self.dispatch_job: int | None = None

    def _count(self, table: str) -> int:
        from socialforce.platform.extensions import db

        return db.session.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()  # noqa: S608 - fixed names

    def start(self) -> None:
        """Submit the batch dispatch now and start the import's thread (check, then import)."""
        from socialforce.platform.extensions import db
        from socialforce.platform.models import User
        from socialforce.platform.services import batch_dispatch, matching
        from socialforce.platform.transactions import run_in_transaction

        with self.app.app_context():
            city = db.session.scalar(sa.select(User).where(User.username == "city"))
            items = db.session.scalars(matching.open_items_query(city).limit(batch_dispatch.MAX_ITEMS)).all()
            self.dispatch_job = run_in_transaction(lambda: batch_dispatch.submit(list(items), city).id)
        self.importer.thread.start()

    def wait_for_running_job(self, timeout: float) -> int | None:
        """The pid of a queue worker running a job, as soon as one is (None after `timeout` seconds)."""
        deadline = time.monotonic() + timeout
        while (pid := self.running_worker_pid()) is None and time.monotonic() < deadline:
            time.sleep(0.2)
        return pid

    def running_worker_pid(self) -> int | None:
        """The pid of the queue worker running a job now, if any."""
        from socialforce.platform.extensions import db
        from socialforce.platform.models import BackgroundJob, JobState

        with self.app.app_context():
            name = db.session.scalar(sa.select(BackgroundJob.worker).where(BackgroundJob.state == JobState.running)
                                     .order_by(BackgroundJob.id).limit(1))
        return int(name.split(":")[1]) if name else None

    def check(self, timeout: float) -> dict:
        """Wait for both jobs; whether each ran exactly once."""
        from socialforce.platform.extensions import db
        from socialforce.platform.models import BackgroundJob, JobState, Order
        from socialforce.platform.models.orders import LIVE_STATES

        self.importer.thread.join(timeout)
        deadline = time.monotonic() + timeout
        with self.app.app_context():
            while True:
                db.session.rollback()
                job = db.session.get(BackgroundJob, self.dispatch_job)
                if job.state in (JobState.done, JobState.failed) or time.monotonic() > deadline:
                    break
                time.sleep(1)
            twice = db.session.execute(sa.select(Order.item_id).where(Order.state.in_(LIVE_STATES))
                                       .group_by(Order.item_id).having(sa.func.count() > 1)).all()
            made = db.session.scalar(sa.select(sa.func.count(Order.id)).where(  # of the listed items only: the
                Order.created_at >= job.created_at, Order.item_id.in_(job.params["item_ids"])))  # scheduler dispatches too
            running = db.session.scalar(sa.select(sa.func.count(BackgroundJob.id))
                                        .where(BackgroundJob.state == JobState.running))
            households = self._count("households") - self.households_before
            dispatched = (job.result or {}).get("dispatched")
            return {
                "dispatch": {"state": str(job.state), "attempts": job.attempts, "dispatched": dispatched,
                             "orders_made": made, "items_with_two_live_orders": len(twice)},
                "import": {"jobs": {k: {"state": v["state"], "attempts": v["attempts"], "seconds": v["seconds"]}
                                    for k, v in self.importer.jobs.items()},
                           "preview_state": (self.importer.jobs.get("preview", {}).get("result") or {}).get("state"),
                           "households_in_file": self.importer.generated["households"],
                           "households_written": households},
                "jobs_left_running": running,
                "exactly_once": (job.state == JobState.done and not twice and made == dispatched
                                 and households == self.importer.generated["households"]),
            }


def _kill_web_worker(server: subprocess.Popen) -> int:
    """SIGKILL one worker process of a gunicorn server (its master starts another); its pid."""
    victim = psutil.Process(server.pid).children()[0].pid
    os.kill(victim, signal.SIGKILL)
    return victim


def the_run(port: int, users: int, duration: float, think: float, jobs: Jobs, web: subprocess.Popen,
            workers: list[subprocess.Popen], kill_window: float) -> dict:
    """`workers`: the two queue workers, then the scheduler. Browsers and API clients together for `duration`; the
    jobs submitted halfway, and one web worker and the queue worker running a job killed as soon as one runs."""
    pages = load.browser_results()
    api = load.Results({"reads": [], "writes": []})
    figures: dict = {}
    threads = [threading.Thread(target=lambda: figures.update(browsers=load.run(
                   users - users // 2, duration, think, "127.0.0.1", port, results=pages))),
               threading.Thread(target=lambda: figures.update(api=load.run_api(
                   users // 2, duration, think, "127.0.0.1", port, results=api)))]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    time.sleep(duration / 2)
    jobs.start()  # halfway, so that the kill below finds a job running (a 2,000-household import takes ~15 s)
    busy = jobs.wait_for_running_job(timeout=60)
    killed_at = time.monotonic()
    killed = {"web_worker_pid": _kill_web_worker(web), "at_s": round(killed_at - started, 1)}
    victim = next((w for w in workers[:2] if w.pid == busy), workers[0])
    victim.send_signal(signal.SIGKILL)
    killed["queue_worker_pid"], killed["queue_worker_was_running_a_job"] = victim.pid, busy == victim.pid
    workers[workers.index(victim)] = _flask("worker", "--threads", "1")
    for thread in threads:
        thread.join(duration + 120)
    figures["killed"] = killed
    errors = pages.error_at + api.error_at
    figures["errors_in_flight_at_kill"] = sum(killed_at <= t <= killed_at + kill_window for t in errors)
    figures["errors_otherwise"] = len(errors) - figures["errors_in_flight_at_kill"]
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--counties", type=int, default=3)
    parser.add_argument("--scale", type=float, default=0.3)
    parser.add_argument("--no-seed", action="store_true", help="the database is seeded already")
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--duration", type=float, default=300.0, help="seconds of the run")
    parser.add_argument("--think", type=float, default=5.0, help="mean seconds between a user's clicks")
    parser.add_argument("--web-workers", type=int, default=4, help="gunicorn workers per server")
    parser.add_argument("--households", type=int, default=2000, help="households in the import run beside the load")
    parser.add_argument("--step", type=float, default=60.0, help="seconds per point of the capacity curve")
    parser.add_argument("--warmup", type=float, default=15.0, help="seconds of each point before the counted ones")
    parser.add_argument("--knee-ms", type=float, default=KNEE_MS)
    parser.add_argument("--no-curve", action="store_true", help="skip the capacity curve")
    parser.add_argument("--no-run", action="store_true", help="stop after the capacity curve")
    parser.add_argument("--kill-window", type=float, default=5.0, help="seconds after the kill whose errors are "
                                                                        "counted as in-flight")
    args = parser.parse_args(argv)
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    os.environ.setdefault("REDIS_URL", DEFAULT_REDIS_URL)
    if not os.environ["DATABASE_URL"].startswith("postgresql"):
        parser.error("DATABASE_URL must name a PostgreSQL database: the processes share it")
    start_servers()
    os.environ["JOB_LEASE_SECONDS"] = LEASE_SECONDS
    report: dict = {"machine": {"cores": os.cpu_count(), "load_avg_1m_start": round(os.getloadavg()[0], 2)}}
    if not args.no_seed:
        report["seed"] = seed(args.counties, args.scale)
    servers: list[subprocess.Popen] = []
    workers: list[subprocess.Popen] = []
    workdir = tempfile.TemporaryDirectory()
    try:
        first, port = load.start_gunicorn(args.web_workers, reuse_port=True)
        servers.append(first)
        settle(first)
        if not args.no_curve:
            report["capacity_one_server"] = capacity(port, args.step, args.warmup, args.knee_ms, args.think)
        servers.append(load.start_gunicorn(args.web_workers, port=port, reuse_port=True)[0])
        settle(servers[1])
        if not args.no_curve:
            report["capacity_two_servers"] = capacity(port, args.step, args.warmup, args.knee_ms, args.think)
        if args.no_run:
            return _report(report)
        workers += [_flask("worker", "--threads", "1"), _flask("worker", "--threads", "1"), _flask("scheduler")]
        jobs = Jobs(args.households, workdir.name)
        cpu_start = sum(load.server_cpu_s(s) or 0.0 for s in servers)
        report["run"] = the_run(port, args.users, args.duration, args.think, jobs, servers[1], workers,
                                args.kill_window)
        report["run"]["web_cpu_s"] = round(sum(load.server_cpu_s(s) or 0.0 for s in servers) - cpu_start, 1)
        report["jobs"] = jobs.check(timeout=1800)
    finally:
        for process in servers + workers:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in servers + workers:
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
        workdir.cleanup()
    return _report(report)


def _report(report: dict) -> int:
    report["machine"]["load_avg_1m_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(report, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
