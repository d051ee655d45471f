"""Benchmark "forgot password": does the answer take the same time whether or not the account exists?

    python -m benchmarks.forgot_password --requests 300 [--database-url postgresql://...]

On a fresh database (a temporary SQLite file by default; a PostgreSQL URL is emptied and migrated), with a local
SMTP server in its own process (aiosmtpd, from the dev extra, writing a maildir) as the e-mail channel, posts the form for three kinds of name in turn,
interleaved: an account with a verified e-mail (a code is issued and mailed on a thread), an account without a
verified address, and a name no account has, in a random order per round. Prints JSON: the server-side time per kind (p50, p95, milliseconds,
through the app's whole request pipeline) and the gap between the medians. The limits are raised for the run.
"""
from __future__ import annotations

import argparse
import json
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import flask_migrate
import sqlalchemy as sa

from socialforce import create_app
from socialforce.platform.extensions import db
from socialforce.platform.models import Role, utcnow
from socialforce.platform.reference import ensure_reference_data
from socialforce.platform.services import accounts

CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))]


def _summary(values: list[float]) -> dict:
    return {"p50_ms": round(statistics.median(values), 2), "p95_ms": round(_percentile(values, 0.95), 2),
            "n": len(values)}


def _mails(maildir: Path) -> int:
    return len(list((maildir / "new").glob("*"))) if (maildir / "new").exists() else 0


def _wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the SMTP server did not start")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _reset_postgres(url: str) -> str:
    url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="requests per kind of name")
    parser.add_argument("--database-url", help="a PostgreSQL URL to empty and use (default: a temporary SQLite file)")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="forgot-bench-")
    maildir, port = Path(folder) / "mail", _free_port()
    smtp = subprocess.Popen([sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}",  # noqa: S603
                             "-c", "aiosmtpd.handlers.Mailbox", str(maildir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for_port(port)
    url = _reset_postgres(args.database_url) if args.database_url else f"sqlite:///{Path(folder) / 'bench.db'}"
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url, SMTP_HOST="127.0.0.1", SMTP_PORT=port,
                     FORGOT_MAX_PER_IP=10**9, FORGOT_MAX_PER_ACCOUNT=10**9)
    with app.app_context():
        flask_migrate.upgrade()
        ensure_reference_data()
        for name, email in (("known", "known@example.org"), ("noaddress", None)):
            user = accounts.create_user(name, "bench-password", Role.city_staff, name)
            user.email, user.email_verified_at = email, utcnow() if email else None
        db.session.commit()
    timings: dict[str, list[float]] = {"verified_email": [], "no_verified_address": [], "no_account": []}
    names = {"verified_email": "known", "no_verified_address": "noaddress", "no_account": "nobody"}
    client = app.test_client()
    token = CSRF_RE.search(client.get("/forgot-password").get_data(as_text=True)).group(1)
    rounds = random.Random(2026)  # noqa: S311 - the order of a benchmark's requests, not security
    for n in range(args.requests + 10):
        order = list(names.items())
        rounds.shuffle(order)  # the mail of one request is sent while the next runs: no kind always follows it
        for kind, name in order:
            started = time.perf_counter()
            response = client.post("/forgot-password", data={"identifier": name, "csrf_token": token},
                                   buffered=True)  # closed at once, as a WSGI server closes it after sending
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 200, response.status_code
            if n >= 10:  # the first requests warm the caches
                timings[kind].append(elapsed)
    deadline = time.monotonic() + 30
    while _mails(maildir) < args.requests + 10 and time.monotonic() < deadline:
        time.sleep(0.05)
    smtp.terminate()
    smtp.wait(10)
    medians = {kind: statistics.median(values) for kind, values in timings.items()}
    print(json.dumps({
        "database": make_dialect(url), "requests_per_kind": args.requests,
        **{kind: _summary(values) for kind, values in timings.items()},
        "median_gap_ms": round(max(medians.values()) - min(medians.values()), 2),
        "mails_received": _mails(maildir),
    }, indent=2))


def make_dialect(url: str) -> str:
    """The database's dialect name, for the report."""
    return sa.engine.make_url(url).get_backend_name()


if __name__ == "__main__":
    main()
