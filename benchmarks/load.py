"""Load test: N simulated users of the four portals against gunicorn on loopback; prints ONE JSON line.

    SOCIALFORCE_INSTANCE=/tmp/demo python -m benchmarks.load --users 50 --duration 120

Starts gunicorn (--workers, on 127.0.0.1 and a free port) on the configured database unless --url names a
running server (loopback only: the script refuses any other host). Each user logs in as one of the demo roles and
opens that role's pages (home, lists, calendar, inbox; the staff dashboard) with a think time between clicks, for a
bounded time. Reports requests/s, p50/p95/p99 of pages, of the dashboard and of the login separately (the login,
GET and POST, checks a deliberately slow password hash; all users log in within the first second), and the error
count (any status other than 200, or a failed request). Targets: 0 errors, p95 <= 300 ms (pages), <= 800 ms (dashboard).

With --import-households N the script also starts one background worker (`flask worker`, the configured queue) and,
as the demo's `city` user, submits the check and then the import of a generated N-household workbook
(benchmarks/imports.py) while the users browse; the JSON gains "import" (job times, rows written, and the share
of the load window during which an import job was running). Target: pages p95 <= 300 ms while it runs.

With --api the users are JSON API clients instead (issue #18): each gets its own bearer token (every scope of its
role; created in the database first, revoked at the end) for one of the demo logins of the staff, agency, unit and
volunteer roles, and sends that role's mix of reads (lists, details, the dashboard figures) and writes (a volunteer's
availability, notes on a provider's visit, a staff item registered on a household of the town), every write with a
fresh Idempotency-Key. Reports p50/p95/p99 for reads and writes separately, p95 per operation, and errors (any
status other than the operation's 2xx). Targets: p95 <= 200 ms (reads), <= 400 ms (writes), 0 errors.

In both modes, with --warmup S the users first run S seconds that are not counted (the browsers log in, and each
worker builds its per-process models, e.g. the ranked tasks' text model, on its first use); the server's CPU seconds
include them.

Both modes add the load average (1 min, at the start and the end) and the CPU seconds used by the server's
processes (`server_cpu_s`), this machine's PostgreSQL processes (`database_cpu_s`) and this script's simulated
users (`client_cpu_s`): on a 2-core machine the three share the cores.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

LOOPBACK = ("127.0.0.1", "localhost", "::1")
DEMO_PASSWORD = "demo1234"
DASHBOARD = "/staff/dashboard"
MIX: dict[str, list[str]] = {  # username -> the pages that role opens (repeated entries: opened more often)
    "city": ["/staff/", "/staff/households", "/staff/orders", DASHBOARD, DASHBOARD, "/inbox/"],
    "town1": ["/staff/", "/staff/households", "/staff/households?page=2", "/staff/orders", DASHBOARD, "/inbox/"],
    "town2": ["/staff/", "/staff/households", "/staff/orders", DASHBOARD, "/inbox/"],
    "agency1": ["/agency/", "/agency/orders", "/agency/calendar", "/inbox/"],
    "agency2": ["/agency/", "/agency/orders", "/agency/calendar"],
    "worker1": ["/agency/", "/agency/orders", "/agency/calendar"],
    "unit1": ["/unit/", "/unit/orders", "/unit/calendar"],
    "unit2": ["/unit/", "/unit/orders", "/unit/calendar"],
    "cadre1": ["/unit/", "/unit/orders", "/unit/calendar"],
    "volunteer1": ["/volunteer/", "/volunteer/tasks", "/volunteer/hours", "/volunteer/calendar"],
    "volunteer2": ["/volunteer/", "/volunteer/tasks", "/volunteer/calendar"],
}
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
# --api: username -> its operations (method, path; "{visit}", "{household}" filled from the client's own lists)
API_MIX: dict[str, list[tuple[str, str]]] = {
    "city": [("GET", "/api/v1/staff/households"), ("GET", "/api/v1/staff/orders"),
             ("GET", "/api/v1/staff/orders?state=completed"), ("GET", "/api/v1/staff/dashboard"),
             ("GET", "/api/v1/staff/households/{household}"), ("POST", "/api/v1/staff/households/{household}/items")],
    "town1": [("GET", "/api/v1/staff/households"), ("GET", "/api/v1/staff/households?page=2"),
              ("GET", "/api/v1/staff/orders"), ("GET", "/api/v1/staff/households/{household}"),
              ("GET", "/api/v1/staff/dashboard"), ("POST", "/api/v1/staff/households/{household}/items")],
    "agency1": [("GET", "/api/v1/provider/orders"), ("GET", "/api/v1/provider/orders?state=accepted"),
                ("GET", "/api/v1/provider/visits"), ("GET", "/api/v1/provider/workers"),
                ("GET", "/api/v1/provider/offers"), ("POST", "/api/v1/provider/visits/{visit}/notes")],
    "worker1": [("GET", "/api/v1/provider/orders"), ("GET", "/api/v1/provider/visits"), ("GET", "/api/v1/me"),
                ("POST", "/api/v1/provider/visits/{visit}/notes")],
    "unit1": [("GET", "/api/v1/provider/orders"), ("GET", "/api/v1/provider/visits"),
              ("GET", "/api/v1/provider/offers"), ("POST", "/api/v1/provider/visits/{visit}/notes")],
    "cadre1": [("GET", "/api/v1/provider/orders"), ("GET", "/api/v1/provider/visits"),
               ("POST", "/api/v1/provider/visits/{visit}/notes")],
    "volunteer1": [("GET", "/api/v1/volunteer/tasks"), ("GET", "/api/v1/volunteer/profile"),
                   ("GET", "/api/v1/volunteer/visits"), ("GET", "/api/v1/volunteer/hours"),
                   ("POST", "/api/v1/volunteer/profile/availability")],
    "volunteer2": [("GET", "/api/v1/volunteer/tasks"), ("GET", "/api/v1/volunteer/profile"),
                   ("GET", "/api/v1/volunteer/visits"), ("POST", "/api/v1/volunteer/profile/availability")],
}
WEEKDAY_MORNINGS = 0b1001001001001  # the availability a volunteer client saves (bits 0, 3, 6, 9, 12)


@dataclass
class Results:
    """Response times in groups (pages and dashboard, or API reads and writes) and by path or operation."""

    groups: dict[str, list[float]]
    by_key: dict[str, list[float]] = field(default_factory=dict)
    errors: int = 0
    error_at: list[float] = field(default_factory=list)  # time.monotonic() of each error
    ended_at: dict[str, list[float]] = field(default_factory=dict)  # per group, time.monotonic() of each answer
    samples: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, group: str, key: str, seconds: float, ok: bool, note: str = "") -> None:
        with self.lock:
            self.groups[group].append(seconds)
            self.ended_at.setdefault(group, []).append(time.monotonic())
            self.by_key.setdefault(key, []).append(seconds)
            if not ok:
                self.errors += 1
                self.error_at.append(time.monotonic())
                if len(self.samples) < 10:
                    self.samples.append(f"{key}: {note}")

    def total(self) -> int:
        return sum(len(times) for times in self.groups.values())

    def summary(self, group: str) -> dict:
        values = self.groups[group]
        return {"count": len(values), "p50_ms": percentile(values, 0.50), "p95_ms": percentile(values, 0.95),
                "p99_ms": percentile(values, 0.99)}

    def p95_within(self, group: str, spans: list[tuple[float, float]]) -> dict:
        """Count and p95 of the group's requests that ended inside one of the (start, end) monotonic spans."""
        inside = [t for t, at in zip(self.groups[group], self.ended_at.get(group, []), strict=True)
                  if any(a <= at <= b for a, b in spans)]
        return {"count": len(inside), "p95_ms": percentile(inside, 0.95)}

    def p95_by_key(self) -> dict[str, float]:
        return dict(sorted(((key, percentile(times, 0.95)) for key, times in self.by_key.items()),
                           key=lambda pair: -pair[1]))


BROWSER_GROUPS = ("pages", "dashboard", "login")


def browser_results() -> Results:
    """Empty results for browsers: pages, the dashboard and the login (a deliberately slow password hash) apart."""
    return Results({group: [] for group in BROWSER_GROUPS})


def _page(path: str) -> tuple[str, str]:
    """(group, key) of a page request."""
    group = "dashboard" if path.startswith(DASHBOARD) else "login" if path == "/login" else "pages"
    return group, path.split("?")[0]


class Browser:
    """One user's connection with its own session cookie."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.cookie = ""
        self.connection = http.client.HTTPConnection(host, port, timeout=30)

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, str, dict]:
        headers = {"Cookie": self.cookie, "User-Agent": "socialforce-bench"} if self.cookie else {
            "User-Agent": "socialforce-bench"}
        data = None
        if body is not None:
            data = urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            self.connection.request(method, path, body=data, headers=headers)
            response = self.connection.getresponse()
        except (http.client.HTTPException, OSError):
            self.connection.close()
            self.connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
            raise
        text = response.read().decode("utf-8", "replace")
        for name, value in response.getheaders():
            if name.lower() == "set-cookie" and value.startswith("session="):
                self.cookie = value.split(";", 1)[0]
        return response.status, text, dict(response.getheaders())

    def login(self, username: str) -> None:
        _status, page, _h = self.request("GET", "/login")
        token = CSRF_RE.search(page).group(1)
        status, _text, headers = self.request("POST", "/login", {"username": username, "password": DEMO_PASSWORD,
                                                                 "csrf_token": token})
        if status != 302 or "/login" in headers.get("Location", ""):
            raise RuntimeError(f"login of {username} failed with {status}")


def simulate(username: str, host: str, port: int, stop_at: float, think: float, results: Results,
             rng: random.Random, record_from: float = 0.0) -> None:
    """One user: log in, then open the role's pages until `stop_at` (pages opened before `record_from`, the
    warm-up, are not counted; the login always is, in its own group)."""
    browser = Browser(host, port)
    try:
        _browse(browser, username, stop_at, think, results, rng, record_from)
    finally:
        browser.connection.close()


def _browse(browser: Browser, username: str, stop_at: float, think: float, results: Results,
            rng: random.Random, record_from: float) -> None:
    started = time.perf_counter()
    try:
        browser.login(username)
        results.add(*_page("/login"), time.perf_counter() - started, True)
    except (RuntimeError, OSError, http.client.HTTPException, AttributeError) as error:
        results.add(*_page("/login"), time.perf_counter() - started, False, f"{username}: {error}")
        return
    while time.monotonic() < stop_at:
        path = rng.choice(MIX[username])
        counted = time.monotonic() >= record_from
        started = time.perf_counter()
        try:
            status, _text, _headers = browser.request("GET", path)
            if counted:
                results.add(*_page(path), time.perf_counter() - started, status == 200, f"status {status}")
        except (OSError, http.client.HTTPException) as error:
            if counted:
                results.add(*_page(path), time.perf_counter() - started, False, type(error).__name__)
        time.sleep(rng.uniform(0.5, 1.5) * think)


class ApiClient:
    """One API client: its own bearer token and connection, no cookies."""

    def __init__(self, host: str, port: int, token: str):
        self.host, self.port = host, port
        self.headers = {"Authorization": f"Bearer {token}", "User-Agent": "socialforce-bench",
                        "Accept-Language": "zh-CN"}
        self.connection = http.client.HTTPConnection(host, port, timeout=30)

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict | None]:
        headers = dict(self.headers)
        data = None
        if method == "POST":
            headers["Idempotency-Key"] = os.urandom(12).hex()
            headers["Content-Type"] = "application/json"
            data = json.dumps(body or {})
        try:
            self.connection.request(method, path, body=data, headers=headers)
            response = self.connection.getresponse()
            raw = response.read()
        except (http.client.HTTPException, OSError):
            self.connection.close()
            self.connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
            raise
        try:
            return response.status, json.loads(raw) if raw else None
        except ValueError:
            return response.status, None


def _api_body(path: str, rng: random.Random, category_id: int) -> dict:
    if path.endswith("/availability"):
        return {"availability": WEEKDAY_MORNINGS}
    if path.endswith("/notes"):
        return {"notes": f"压力测试备注 {rng.randrange(10_000)}"}
    return {"category_id": category_id, "description": f"压力测试事项 {rng.randrange(10_000)}：每周上门探访"}


def _first_ids(client: ApiClient, path: str) -> list[int]:
    status, body = client.request("GET", path)
    return [row["id"] for row in (body or {}).get("items", [])] if status == 200 else []


def simulate_api(username: str, token: str, host: str, port: int, stop_at: float, think: float,
                 results: Results, rng: random.Random, category_id: int, record_from: float = 0.0) -> None:
    """One API client: find its own visit and household ids, then send its role's operations until `stop_at`
    (those sent before `record_from`, the warm-up, are not counted)."""
    client = ApiClient(host, port, token)
    lists = {"visit": "/api/v1/provider/visits?status=planned", "household": "/api/v1/staff/households"}
    try:
        ids = {}
        for kind, path in lists.items():
            started = time.perf_counter()
            try:
                ids[kind] = _first_ids(client, path) if f"{{{kind}}}" in str(API_MIX[username]) else []
            except (OSError, http.client.HTTPException) as error:  # the client cannot start: one error
                results.add("reads", f"GET {path.split('?')[0]}", time.perf_counter() - started, False,
                            type(error).__name__)
                return
        operations = [(m, p) for m, p in API_MIX[username]
                      if not any(f"{{{k}}}" in p and not v for k, v in ids.items())]
        while time.monotonic() < stop_at:
            method, template = rng.choice(operations)
            path = template.format(**{k: rng.choice(v) for k, v in ids.items() if v})
            body = _api_body(path, rng, category_id) if method == "POST" else None
            group, key = ("reads" if method == "GET" else "writes"), f"{method} {template.split('?')[0]}"
            counted = time.monotonic() >= record_from
            started = time.perf_counter()
            try:
                status, _answer = client.request(method, path, body)
                ok = 200 <= status < 300
                if counted:
                    results.add(group, key, time.perf_counter() - started, ok, f"status {status}")
            except (OSError, http.client.HTTPException) as error:
                if counted:
                    results.add(group, key, time.perf_counter() - started, False, type(error).__name__)
            time.sleep(rng.uniform(0.5, 1.5) * think)
    finally:
        client.connection.close()


class ApiTokens:
    """One bearer token per simulated client (every scope of its user's role), revoked when the run ends."""

    def __init__(self, usernames: list[str]):
        import sqlalchemy as sa

        from socialforce import create_app
        from socialforce.platform.extensions import db
        from socialforce.platform.models import ServiceCategory, User
        from socialforce.platform.services import api_tokens

        self.app = create_app()
        self.ids: list[int] = []
        self.secrets: list[str] = []
        with self.app.app_context():
            users = {u.username: u for u in db.session.scalars(sa.select(User).where(User.username.in_(usernames)))}
            for k, name in enumerate(usernames):
                token, secret = api_tokens.create(users[name], f"load {k}", api_tokens.allowed_scopes(users[name]),
                                                  1)
                self.secrets.append(secret)
                db.session.flush()
                self.ids.append(token.id)
            self.category_id = db.session.scalar(sa.select(ServiceCategory.id).where(
                ServiceCategory.code == "counselling"))
            db.session.commit()

    def revoke(self) -> None:
        """Revoke every token of the run."""
        import sqlalchemy as sa

        from socialforce.platform.extensions import db
        from socialforce.platform.models import ApiToken, utcnow

        with self.app.app_context():
            db.session.execute(sa.update(ApiToken).where(ApiToken.id.in_(self.ids)).values(revoked_at=utcnow()))
            db.session.commit()


def run_api(users: int, duration: float, think: float, host: str, port: int, seed: int = 2020,
            warmup: float = 0.0, results: Results | None = None) -> dict:
    """Run the simulated API clients and return the figures (of the `duration` after `warmup` seconds; `results`
    collects the raw times when given)."""
    results = results or Results({"reads": [], "writes": []})
    names = [list(API_MIX)[k % len(API_MIX)] for k in range(users)]
    tokens = ApiTokens(names)
    record_from = time.monotonic() + warmup
    stop_at = record_from + duration
    threads = [threading.Thread(target=simulate_api, daemon=True,
                                args=(names[k], tokens.secrets[k], host, port, stop_at, think, results,
                                      random.Random(seed + k), tokens.category_id,  # noqa: S311 - a load mix
                                      record_from))
               for k in range(users)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(warmup + duration + 60)
    finally:
        tokens.revoke()
    elapsed = time.monotonic() - record_from
    total = results.total()
    return {
        "mode": "api", "clients": users, "roles": sorted(set(names)), "warmup_s": warmup, "duration_s": round(elapsed, 1),
        "think_s": think, "requests": total, "requests_per_s": round(total / elapsed, 1),
        "reads": results.summary("reads"), "writes": results.summary("writes"),
        "p95_ms_by_operation": results.p95_by_key(),
        "errors": results.errors, "error_samples": results.samples,
    }


def database_cpu_s() -> float:
    """CPU seconds (user + system) of this machine's PostgreSQL processes so far (psutil; backends that ended are
    not counted)."""
    import psutil

    total = 0.0
    for p in psutil.process_iter(["name", "cpu_times"]):
        if p.info["name"] == "postgres" and p.info["cpu_times"] is not None:
            total += p.info["cpu_times"].user + p.info["cpu_times"].system
    return total


def server_cpu_s(process: subprocess.Popen | None) -> float | None:
    """CPU seconds (user + system) of the server process and its workers so far (psutil), None without one."""
    if process is None:
        return None
    import psutil

    try:
        root = psutil.Process(process.pid)
        total = 0.0
        for p in [root, *root.children(recursive=True)]:
            times = p.cpu_times()
            total += times.user + times.system + getattr(times, "children_user", 0) + getattr(
                times, "children_system", 0)
        return round(total, 1)
    except psutil.Error:
        return None


def percentile(values: list[float], share: float) -> float | None:
    """The nearest-rank percentile in milliseconds."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000, 1)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(workers: int, port: int | None = None, reuse_port: bool = False) -> tuple[subprocess.Popen, int]:
    """gunicorn on 127.0.0.1 with `workers` processes, on a free port of its own and also on `port` if given (with
    `reuse_port`, several servers share that one and the kernel spreads the connections); waits until it answers
    on its own port. Returns the server and `port` (its own when none was given)."""
    own = _free_port()
    binds = ["-b", f"127.0.0.1:{own}", *(["-b", f"127.0.0.1:{port}"] if port else [])]
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", str(workers), *binds, "--log-level", "warning",
         *(["--reuse-port"] if reuse_port else []), "socialforce:create_app()"], env={**os.environ},
        stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 240  # a busy machine takes minutes to import the app in every worker
    while time.monotonic() < deadline:
        connection = http.client.HTTPConnection("127.0.0.1", own, timeout=2)
        try:
            connection.request("GET", "/login")
            if connection.getresponse().status == 200:
                return process, port or own
        except OSError:
            time.sleep(0.3)
        finally:
            connection.close()
    process.kill()
    raise RuntimeError("gunicorn did not start")


def run(users: int, duration: float, think: float, host: str, port: int, seed: int = 2020,
        warmup: float = 0.0, results: Results | None = None) -> dict:
    """Run the simulated users and return the figures (of the `duration` after `warmup` seconds; `results`
    collects the raw times when given)."""
    results = results or browser_results()
    names = list(MIX)
    record_from = time.monotonic() + warmup
    stop_at = record_from + duration
    threads = [threading.Thread(target=simulate, daemon=True,
                                args=(names[k % len(names)], host, port, stop_at, think, results,
                                      random.Random(seed + k), record_from))  # noqa: S311 - a load mix
               for k in range(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(warmup + duration + 60)
    elapsed = time.monotonic() - record_from
    total = results.total()
    return {
        "users": users, "warmup_s": warmup, "duration_s": round(elapsed, 1), "think_s": think, "requests": total,
        "requests_per_s": round(total / elapsed, 1),
        **{group: results.summary(group) for group in BROWSER_GROUPS},
        "p95_ms_by_path": results.p95_by_key(),
        "errors": results.errors, "error_samples": results.samples,
    }


class BackgroundImport:
    """An N-household import run by a real worker beside the load: the check, then the import, as two jobs."""

    def __init__(self, households: int, workdir: str, worker: bool = True):
        from benchmarks import imports as bench_imports
        from socialforce import create_app

        self.households, self.workdir = households, workdir
        self.app = create_app()
        self.path = os.path.join(workdir, "bench.xlsx")
        started = time.perf_counter()
        # IDs of another county (370482): the demo's residents are 370481, so no generated person is one of them
        self.generated = bench_imports.generate(Path(self.path), households, region="370482")
        self.generate_s = round(time.perf_counter() - started, 1)
        self.app.config["IMPORT_MAX_BYTES"] = max(self.app.config.get("IMPORT_MAX_BYTES", 0),
                                                  os.path.getsize(self.path))
        with self.app.app_context():
            self._villages(bench_imports.village_names)
        self.worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "socialforce", "worker"],
                                       env={**os.environ}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) \
            if worker else None
        self.busy: list[tuple[float, float]] = []
        self.jobs: dict[str, dict] = {}
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _villages(self, village_names) -> None:
        import sqlalchemy as sa

        from socialforce.platform.extensions import db
        from socialforce.platform.models import Town, Village

        for town in db.session.scalars(sa.select(Town)).all():
            have = set(db.session.scalars(sa.select(Village.name).where(Village.town_id == town.id)))
            db.session.add_all(Village(town_id=town.id, name=name, lat=town.lat, lon=town.lon)
                               for name in village_names(town.name_zh) if name not in have)
        db.session.commit()

    def _job(self, kind: str, user, upload) -> dict:
        import sqlalchemy as sa

        from socialforce.platform.extensions import db
        from socialforce.platform.models import BackgroundJob, JobState
        from socialforce.platform.services import background
        from socialforce.platform.transactions import run_in_transaction

        job_id = run_in_transaction(lambda: background.submit(kind, user, subject=upload.token,
                                                              token=upload.token).id)
        began = None
        while True:
            db.session.rollback()
            job = db.session.scalar(sa.select(BackgroundJob).where(BackgroundJob.id == job_id))
            if job.state == JobState.running and began is None:
                began = time.monotonic()
            if job.state in (JobState.done, JobState.failed):
                end = time.monotonic()
                self.busy.append((began or end, end))
                return {"state": str(job.state), "attempts": job.attempts,
                        "seconds": round((job.finished_at - job.started_at).total_seconds(), 1),
                        "result": job.result, "error": job.error}
            time.sleep(0.5)

    def _run(self) -> None:
        import sqlalchemy as sa

        from socialforce.platform.extensions import db
        from socialforce.platform.models import User, utcnow
        from socialforce.platform.services import imports

        with self.app.app_context():
            user = db.session.scalar(sa.select(User).where(User.username == "city"))
            with open(self.path, "rb") as stream:
                upload = imports.store_upload(stream, "bench.xlsx", None, user, utcnow())
            db.session.commit()
            self.jobs["preview"] = self._job("import_preview", user, upload)
            if (self.jobs["preview"]["result"] or {}).get("state") == "valid" and upload.claim():
                self.jobs["import"] = self._job("import_confirm", user, upload)

    def stop(self) -> None:
        """Stop the worker."""
        if self.worker is not None and self.worker.poll() is None:
            self.worker.send_signal(signal.SIGTERM)
            self.worker.wait(60)

    def figures(self, window: tuple[float, float]) -> dict:
        """The import's figures and how much of the load window it was running."""
        self.thread.join(3600)
        self.stop()
        start, end = window
        overlap = sum(max(0.0, min(b, end) - max(a, start)) for a, b in self.busy)
        written = (self.jobs.get("import", {}).get("result") or {}).get("written")
        return {"households": self.households, "generate_s": self.generate_s, "jobs": {
            k: {key: v[key] for key in ("state", "attempts", "seconds", "error")} for k, v in self.jobs.items()},
            "preview_state": (self.jobs.get("preview", {}).get("result") or {}).get("state"),
            "written": written, "busy_share_of_load": round(overlap / max(end - start, 1e-9), 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--duration", type=float, default=120.0, help="seconds")
    parser.add_argument("--think", type=float, default=1.0, help="mean seconds between a user's clicks")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (when the script starts it)")
    parser.add_argument("--skip", action="append", default=[], help="leave a path out of the mix (repeatable)")
    parser.add_argument("--url", help="a running server on loopback, e.g. http://127.0.0.1:8000")
    parser.add_argument("--api", action="store_true", help="JSON API clients with bearer tokens instead of browsers")
    parser.add_argument("--warmup", type=float, default=0.0,
                        help="seconds of load before the measured duration, not counted (every user has logged "
                             "in and every worker has loaded its per-process models)")
    parser.add_argument("--import-households", type=int, default=0,
                        help="import a generated workbook of this many households in a worker during the load")
    args = parser.parse_args(argv)
    for pages in MIX.values():
        pages[:] = [page for page in pages if page not in args.skip] or ["/inbox/"]
    server = None
    if args.url:
        parts = urlsplit(args.url)
        if parts.hostname not in LOOPBACK:
            parser.error("the load test only targets this machine (127.0.0.1, localhost or ::1)")
        host, port = parts.hostname, parts.port or 80
    else:
        server, port = start_gunicorn(args.workers)
        host = "127.0.0.1"
    background_import = None
    workdir = tempfile.TemporaryDirectory()
    try:
        if args.import_households:
            background_import = BackgroundImport(args.import_households, workdir.name)
            background_import.thread.start()
        window = time.monotonic()
        load_start = os.getloadavg()[0]
        cpu_start, database_start, client_start = server_cpu_s(server), database_cpu_s(), time.process_time()
        results = Results({"reads": [], "writes": []}) if args.api else browser_results()
        if args.api:
            figures = run_api(args.users, args.duration, args.think, host, port, warmup=args.warmup, results=results)
        else:
            figures = run(args.users, args.duration, args.think, host, port, warmup=args.warmup, results=results)
        cpu_end = server_cpu_s(server)
        figures["load_avg_1m"] = {"start": round(load_start, 2), "end": round(os.getloadavg()[0], 2)}
        figures["server_cpu_s"] = round(cpu_end - cpu_start, 1) if cpu_start is not None and cpu_end is not None \
            else None
        figures["database_cpu_s"] = round(database_cpu_s() - database_start, 1)
        figures["client_cpu_s"] = round(time.process_time() - client_start, 1)  # this script's simulated users
        if background_import is not None:
            figures["import"] = background_import.figures((window, time.monotonic()))
            figures["import"]["while_running"] = {group: results.p95_within(group, background_import.busy)
                                                  for group in results.groups}
    finally:
        if background_import is not None:
            background_import.stop()
        workdir.cleanup()
        if server is not None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:  # workers stuck in slow requests
                server.kill()
                server.wait()
    figures["database"] = "postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "sqlite"
    figures["workers"] = None if args.url else args.workers
    figures["skipped"] = args.skip
    print(json.dumps(figures, ensure_ascii=False))
    return 0 if figures["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
