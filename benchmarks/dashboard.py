"""Benchmark the staff dashboard: log in as city and town staff through the Flask test client and time the page.

    python -m benchmarks.dashboard --database-url sqlite:////tmp/oversight1/socialforce.db \
        --requests 50

Prints JSON with p50/p95/max (milliseconds) per user and period: the default period (this month), the month and
the twelve months before --until (default: the demo seed's day), on a database built by `seed-demo`, with the
load average before and after. The page reuses a built dashboard for DASHBOARD_CACHE_SECONDS (see
services/dashboard/cache.py); --no-cache measures every request building all figures from the database.
The report says which days the dashboard pre-aggregates cover (services/dashboard/aggregates.py; none: every
figure reads raw rows); --rebuild-aggregates rebuilds them first (as of --until's next day) and times it.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import time
from datetime import date, timedelta

import sqlalchemy as sa

from socialforce import create_app
from socialforce.platform.extensions import db
from socialforce.platform.seed import DEMO_PASSWORD, DEMO_TODAY

CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def _login(client, username: str, password: str) -> None:
    token = CSRF_RE.search(client.get("/login").get_data(as_text=True)).group(1)
    response = client.post("/login", data={"username": username, "password": password, "csrf_token": token})
    if response.status_code != 302:
        raise SystemExit(f"login as {username} failed ({response.status_code})")


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))]


def time_page(client, path: str, requests: int) -> dict:
    """Wall-clock and CPU (this process, SQLite included) timings of `requests` GETs after one warm-up."""
    if client.get(path).status_code != 200:
        raise SystemExit(f"{path} did not answer 200")
    wall, cpu = [], []
    for _ in range(requests):
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.get(path)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{path} answered {response.status_code}")
    return {"p50_ms": round(statistics.median(wall), 1), "p95_ms": round(_percentile(wall, 0.95), 1),
            "max_ms": round(max(wall), 1), "cpu_p50_ms": round(statistics.median(cpu), 1),
            "cpu_p95_ms": round(_percentile(cpu, 0.95), 1), "requests": requests}


def _sqlite_cache(app, megabytes: int) -> None:
    """Give every SQLite connection a larger page cache (to measure the effect of that setting)."""
    with app.app_context():
        @sa.event.listens_for(db.engine, "connect")
        def _cache(connection, _record):
            cursor = connection.cursor()
            cursor.execute(f"PRAGMA cache_size=-{megabytes * 1024}")
            cursor.close()

        db.engine.dispose()


def _aggregates(app, rebuild: bool, until: date) -> dict:
    """Rebuild the pre-aggregates if asked (as of the day after `until`); the days they cover."""
    from socialforce.platform import localtime
    from socialforce.platform.models import AggregateCoverage
    from socialforce.platform.services.dashboard import aggregates

    with app.app_context():
        result: dict = {}
        if rebuild:
            started = time.perf_counter()
            aggregates.rebuild(localtime.day_start(until + timedelta(days=1)) + timedelta(hours=2))
            db.session.commit()
            result["rebuild_s"] = round(time.perf_counter() - started, 1)
        coverage = db.session.get(AggregateCoverage, aggregates.COVERAGE)
        result["covered"] = [coverage.first_day.isoformat(), coverage.last_day.isoformat()] if coverage else None
        return result


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark and print its JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--city-user", default="city")
    parser.add_argument("--town-user", default="town1")
    parser.add_argument("--prefecture-user", default=None,
                        help="also time a prefecture-staff login (every county), e.g. prefecture after seed-demo "
                             "--counties 2")
    parser.add_argument("--password", default=DEMO_PASSWORD)
    parser.add_argument("--until", type=date.fromisoformat, default=DEMO_TODAY - timedelta(days=1))
    parser.add_argument("--no-cache", action="store_true", help="build the dashboard on every request")
    parser.add_argument("--rebuild-aggregates", action="store_true",
                        help="rebuild the dashboard pre-aggregates before measuring (written to the database)")
    parser.add_argument("--sqlite-cache-mb", type=int, default=0,
                        help="SQLite page cache per connection (0: the app's default)")
    args = parser.parse_args(argv)
    url = args.database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    settings = {"DASHBOARD_CACHE_SECONDS": 0} if args.no_cache else {}
    app = create_app("development", SQLALCHEMY_DATABASE_URI=url, DEBUG=False, **settings)
    if args.sqlite_cache_mb and url.startswith("sqlite"):
        _sqlite_cache(app, args.sqlite_cache_mb)
    report_aggregates = _aggregates(app, args.rebuild_aggregates, args.until)
    year = f"/staff/dashboard?from={(args.until - timedelta(days=364)).isoformat()}&to={args.until.isoformat()}"
    month = f"/staff/dashboard?from={args.until.replace(day=1).isoformat()}&to={args.until.isoformat()}"
    report = {"database": url.split(":", 1)[0], "requests": args.requests,
              "sqlite_cache_mb": args.sqlite_cache_mb or "default", "dashboard_cache": not args.no_cache,
              "aggregates": report_aggregates,
              "load_average_before": [round(x, 2) for x in os.getloadavg()], "pages": {}}
    users = [("city", args.city_user), ("town", args.town_user)]
    if args.prefecture_user:
        users.append(("prefecture", args.prefecture_user))
    for label, username in users:
        client = app.test_client()
        _login(client, username, args.password)
        for period, path in (("default", "/staff/dashboard"), ("month", month), ("year", year)):
            report["pages"][f"{label}_{period}"] = {"path": path, **time_page(client, path, args.requests)}
    report["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    report["worst_p95_ms"] = max(page["p95_ms"] for page in report["pages"].values())
    report["worst_cpu_p95_ms"] = max(page["cpu_p95_ms"] for page in report["pages"].values())
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return report


if __name__ == "__main__":
    main()
