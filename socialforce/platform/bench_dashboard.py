"""Benchmark the staff dashboard: log in as city and town staff through the Flask test client and time the page.

    python -m socialforce.platform.bench_dashboard --database-url sqlite:////tmp/oversight1/socialforce.db \
        --requests 50

Prints JSON with p50/p95/max (milliseconds) per user and period: the default period (this month) and the
twelve months before --until (default: the demo seed's day), on a database built by `seed-demo`.
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from datetime import date, timedelta

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
    """Timings of `requests` GETs of one page after one warm-up request."""
    if client.get(path).status_code != 200:
        raise SystemExit(f"{path} did not answer 200")
    timings = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(path)
        timings.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{path} answered {response.status_code}")
    return {"p50_ms": round(statistics.median(timings), 1), "p95_ms": round(_percentile(timings, 0.95), 1),
            "max_ms": round(max(timings), 1), "requests": requests}


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark and print its JSON report."""
    from socialforce import create_app
    from socialforce.platform.seed import DEMO_PASSWORD, DEMO_TODAY

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--city-user", default="city")
    parser.add_argument("--town-user", default="town1")
    parser.add_argument("--password", default=DEMO_PASSWORD)
    parser.add_argument("--until", type=date.fromisoformat, default=DEMO_TODAY - timedelta(days=1))
    args = parser.parse_args(argv)
    url = args.database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    app = create_app("development", SQLALCHEMY_DATABASE_URI=url, DEBUG=False)
    year = f"/staff/dashboard?from={(args.until - timedelta(days=364)).isoformat()}&to={args.until.isoformat()}"
    month = f"/staff/dashboard?from={args.until.replace(day=1).isoformat()}&to={args.until.isoformat()}"
    report = {"database": url.split(":", 1)[0], "requests": args.requests, "pages": {}}
    for label, username in (("city", args.city_user), ("town", args.town_user)):
        client = app.test_client()
        _login(client, username, args.password)
        for period, path in (("default", "/staff/dashboard"), ("month", month), ("year", year)):
            report["pages"][f"{label}_{period}"] = {"path": path, **time_page(client, path, args.requests)}
    report["worst_p95_ms"] = max(page["p95_ms"] for page in report["pages"].values())
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return report


if __name__ == "__main__":
    main()
