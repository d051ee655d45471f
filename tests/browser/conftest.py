"""End-to-end browser tests: the real app in a subprocess, driven through headless Chromium by Playwright.

The session fixture `live_server` builds a fresh SQLite database in a temporary folder (`flask db upgrade`, then
`flask seed-demo --scale 0.01`), serves it with `flask run` (werkzeug) on a free localhost port beside one
background worker (`flask worker`) and stops both at the end. Nothing is switched off for the tests: the browser fills and submits the real forms with their
CSRF tokens, as a user does. Scale 0.01 is the demo scale of `make run`; at 0.001 the demo agencies hold more live
orders than their weekly slots, so nothing new can be dispatched to them.

Decisions:
- The server always uses its own SQLite file, even when DATABASE_URL points at PostgreSQL. The browser tests are
  therefore skipped when DATABASE_URL is a PostgreSQL URL: the second `make test` run (.ci/run) would repeat
  exactly the same thing. They are not skipped otherwise.
- Chromium is Debian's (/usr/bin/chromium, or $CHROMIUM); `playwright install` is not used. Without it the tests
  are skipped, unless SOCIALFORCE_REQUIRE_BROWSER=1 (set by .ci/run) turns the missing browser into a failure.
- The shared autouse fixture `_context` (tests/conftest.py) is replaced here by a no-op: these tests never touch
  the shared test database, so building and emptying it around every browser test would only cost time.
- Journeys that depend on each other (1 -> 2 -> 5) live in one module and run in file order.

The `portal` fixture fails a test when any page answered 5xx, or when a page opened by a non-staff user (or an
anonymous visitor) holds a full 18-character resident ID. Screenshots and the server log go to
test-artifacts/browser/.
"""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SEED_SCALE = "0.01"
STAFF_USERS = {"city", "town1", "town2"}
RESIDENT_ID = re.compile(r"(?<![0-9A-Za-z])[1-9]\d{16}[\dXx](?![0-9A-Za-z])")
START_TIMEOUT_S = 90


def pytest_collection_modifyitems(config, items):
    """Mark the browser tests; skip them on PostgreSQL runs and (outside CI) without Chromium."""
    here = Path(__file__).parent
    mine = [item for item in items if here in item.path.parents]
    reason = None
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        reason = "browser tests run once, on their own SQLite server, in the SQLite run"
    elif not Path(CHROMIUM).exists() and os.environ.get("SOCIALFORCE_REQUIRE_BROWSER") != "1":
        reason = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    for item in mine:
        item.add_marker(pytest.mark.browser)
        if reason:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(autouse=True)
def _context():
    """Overrides tests/conftest.py's per-test database fixture: the browser tests' server has its own database."""
    yield


@dataclass
class LiveServer:
    url: str
    db_path: Path
    log_path: Path

    def query(self, sql: str, *params) -> list[tuple]:
        """Read the server's database (test set-up facts such as a demo user's member id), read-only."""
        import sqlite3

        conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _flask(env: dict, *args: str, log) -> None:
    subprocess.run([sys.executable, "-m", "flask", "--app", "socialforce", *args], cwd=ROOT, env=env, check=True,
                   stdout=log, stderr=subprocess.STDOUT, timeout=300)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory) -> Iterator[LiveServer]:
    """The app on a fresh, seeded SQLite database, served on a free localhost port for the whole session."""
    folder = tmp_path_factory.mktemp("browser")
    db_path = folder / "browser.db"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log_path = ARTIFACTS / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "SOCIALFORCE_"))}
    env.update(DATABASE_URL=f"sqlite:///{db_path}", SOCIALFORCE_ENV="development", SOCIALFORCE_INSTANCE=str(folder),
               PYTHONUNBUFFERED="1",  # the instance folder's own random keys, as `make run` uses
               VISIT_MIN_MINUTES="0")  # journeys check out seconds after check-in: not flagged as too short
    port = _free_port()
    with open(log_path, "w") as log:
        _flask(env, "db", "upgrade", log=log)
        _flask(env, "seed-demo", "--scale", SEED_SCALE, log=log)
        server = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "socialforce", "run", "--host", "127.0.0.1", "--port", str(port),
             "--no-reload", "--no-debugger"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        worker = subprocess.Popen(  # one background worker beside the server, as `make run` starts
            [sys.executable, "-m", "flask", "--app", "socialforce", "worker"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if server.poll() is not None:
                pytest.fail(f"the app server exited with {server.returncode}; see {log_path}")
            try:
                with urllib.request.urlopen(url + "/login", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the app server did not answer within {START_TIMEOUT_S} s; see {log_path}")
            time.sleep(0.3)
        yield LiveServer(url, db_path, log_path)
    finally:
        for process in (server, worker):
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium through Playwright."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@dataclass
class Portal:
    """Opens logged-in browser pages per demo user and remembers every HTML page a non-staff user received."""

    browser: object
    server: LiveServer
    journey: str
    contexts: list = field(default_factory=list)
    non_staff_pages: list[tuple[str, str, str]] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)
    shots: int = 0

    def page(self, username: str | None = None, password: str = "demo1234", staff: bool | None = None,
             geolocation: dict | None = None):
        """A new browser context (its own cookies) with one page; logged in as `username` unless None.

        With `geolocation` the context allows location access and reports that position (for check-in/out)."""
        context = self.browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN",
                                           geolocation=geolocation,
                                           permissions=["geolocation"] if geolocation else [])
        context.set_default_timeout(15_000)
        self.contexts.append(context)
        context.on("response", lambda r: self.server_errors.append(f"{r.status} {r.request.method} {r.url}")
                   if r.status >= 500 else None)
        is_staff = (username in STAFF_USERS) if staff is None else staff
        if not is_staff:
            label = username or "anonymous"

            def remember(response, label=label):
                if response.request.resource_type == "document" and not 300 <= response.status < 400:
                    self.non_staff_pages.append((label, response.url, response.text()))

            context.on("response", remember)
        page = context.new_page()
        if username:
            self.login(page, username, password)
        return page

    def login(self, page, username: str, password: str = "demo1234") -> None:
        """Log in through the login form and check that the portal opened."""
        page.goto(self.server.url + "/login")
        page.fill("#username", username)
        page.fill("#password", password)
        page.locator("main button[type=submit]").click()
        page.wait_for_load_state()
        assert "/login" not in page.url, f"{username} could not log in: {page.inner_text('main')[:300]}"

    def english(self, page) -> None:
        """Switch the page's session to English through the language button of the top bar."""
        page.locator("nav.navbar").get_by_role("button", name="English").click()
        page.wait_for_load_state()

    def menu(self, page, path: str) -> None:
        """Follow the top-menu link to `path` as a user does: open the menu button on a narrow screen and the
        "More" dropdown when the link is folded into it."""
        nav = page.locator("nav.navbar")
        toggler = nav.locator(".navbar-toggler")
        if toggler.is_visible() and not nav.locator("#mainnav").is_visible():
            toggler.click()
        link = nav.locator(f"#mainnav a[href$='{path}']").first
        if not link.is_visible():
            nav.locator("#nav-more-toggle").click()
        link.click()
        page.wait_for_load_state()
        assert page.url.split("?")[0].endswith(path), f"the menu did not open {path}: {page.url}"

    def go(self, page, path: str):
        """Open a path of the app and check it answered 200."""
        response = page.goto(self.server.url + path)
        assert response is not None and response.status == 200, f"{path}: {response and response.status}"
        return response

    def shot(self, page, name: str) -> None:
        """A full-page screenshot in test-artifacts/browser/<journey>-NN-<name>.png."""
        self.shots += 1
        page.screenshot(path=str(ARTIFACTS / f"{self.journey}-{self.shots:02d}-{name}.png"), full_page=True)

    def assert_fits_phone(self, page, name: str) -> None:
        """At 375 px wide the page has no horizontal scroll; screenshot it, then restore the desktop size."""
        size = page.viewport_size
        page.set_viewport_size({"width": 375, "height": 812})
        try:
            page.wait_for_timeout(100)
            widths = page.evaluate(
                "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
            self.shot(page, f"{name}-375px")
            assert widths[0] <= widths[1], f"{name} scrolls sideways at 375 px: {widths[0]} > {widths[1]}"
        finally:
            page.set_viewport_size(size)

    def resident_id_leaks(self) -> list[str]:
        """URLs (with the role) of non-staff pages whose HTML holds a full resident ID."""
        return [f"{who} {url}: {m.group(0)[:4]}…" for who, url, html in self.non_staff_pages
                for m in [RESIDENT_ID.search(html)] if m]

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def portal(browser, live_server, request) -> Iterator[Portal]:
    """Logged-in pages for the demo users; fails the test on a server error or a full resident ID on a non-staff
    page."""
    journey = request.node.name.removeprefix("test_")
    for old in ARTIFACTS.glob(f"{journey}-*.png"):
        old.unlink()
    helper = Portal(browser, live_server, journey)
    try:
        yield helper
    finally:
        helper.close()
    assert not helper.server_errors, f"server errors (see {live_server.log_path}): {helper.server_errors}"
    leaks = helper.resident_id_leaks()
    assert not leaks, "full resident IDs on non-staff pages: " + "; ".join(leaks)

