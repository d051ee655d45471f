"""State shared by every process (platform/caching.py): the default backends, version tokens, and two real
gunicorn processes on one database and one Redis, where a change made through one is seen through the other at
its very next request (a dashboard figure, a matching ranking)."""
from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from html import unescape
from pathlib import Path
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from flask import Flask

from config import BASE_DIR
from socialforce.platform import caching, localtime
from socialforce.platform.extensions import db
from socialforce.platform.models import Role, ServiceItem, ServiceOffer
from socialforce.platform.seed import DEMO_PASSWORD
from socialforce.platform.services import matching
from tests import factories

CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def _config_in_a_fresh_process(**env: str) -> list[str]:
    """config.Config's cache settings as a new process with only these variables would read them."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CACHE_") and k != "REDIS_URL"}
    code = ("import config; c = config.Config; "
            "print(c.CACHE_TYPE, c.CACHE_REDIS_URL, c.CACHE_DIR, c.CACHE_KEY_PREFIX, c.CACHE_DEFAULT_TIMEOUT)")
    out = subprocess.run([sys.executable, "-c", code], cwd=BASE_DIR, env={**clean, **env}, capture_output=True,
                         text=True, check=True).stdout
    return out.split()


def test_without_redis_the_cache_is_files_under_the_instance_folder_and_redis_when_named(tmp_path):
    kind, url, folder, prefix, timeout = _config_in_a_fresh_process(SOCIALFORCE_INSTANCE=str(tmp_path))
    assert (kind, url, folder, prefix, timeout) == ("FileSystemCache", "None", str(tmp_path / "cache"),
                                                     "socialforce:", "300")
    assert _config_in_a_fresh_process(REDIS_URL="redis://cache.example:6379/3")[:2] == [
        "RedisCache", "redis://cache.example:6379/3"]
    assert _config_in_a_fresh_process(REDIS_URL="redis://a:6379/3", CACHE_REDIS_URL="redis://b:6379/4",
                                      CACHE_KEY_PREFIX="sf2:", CACHE_DEFAULT_TIMEOUT="60")[:2] == [
        "RedisCache", "redis://b:6379/4"]
    assert _config_in_a_fresh_process(CACHE_KEY_PREFIX="sf2:", CACHE_DEFAULT_TIMEOUT="60")[3:] == ["sf2:", "60"]


def _small_app(instance: Path, **config) -> Flask:
    app = Flask("cache-test", instance_path=str(instance))
    app.config.update(config)
    caching.init_app(app)
    return app


def test_two_apps_on_one_cache_folder_see_each_others_tokens_and_values(tmp_path):
    """The default backend: two processes of one machine share instance/cache (here two apps, one folder)."""
    first, second = _small_app(tmp_path), _small_app(tmp_path)
    with first.app_context():
        assert caching.backend_name() == "FileSystemCache"
        assert caching.token("x") is None
        written = caching.bump("x")
        caching.put("figure", {"households": 3}, 60)
    with second.app_context():
        assert caching.token("x") == written
        assert caching.get("figure") == {"households": 3}
        again = caching.bump("x")
    assert again != written
    with first.app_context():
        assert caching.token("x") == again
    assert (tmp_path / "cache").is_dir()


def test_an_unreachable_redis_degrades_to_no_cache_without_errors(tmp_path, caplog):
    app = _small_app(tmp_path, CACHE_TYPE="RedisCache", CACHE_REDIS_URL="redis://127.0.0.1:1/0")
    with app.app_context():
        assert caching.backend_name() == "RedisCache"
        caching.put("k", 1, 10)
        assert caching.get("k") is None
        assert caching.bump("x") is None and caching.token("x") is None
    assert "shared cache write failed (ConnectionError)" in caplog.text


def test_invalidate_writes_a_new_token_now_and_again_after_commit_never_after_rollback(app):
    factories.agency("甲社工")  # a service changes rows, then invalidates, inside the request's transaction
    before = caching.token(matching.INDEX_VERSION)
    matching.invalidate()
    during = caching.token(matching.INDEX_VERSION)
    assert during not in (None, before)
    db.session.commit()
    after_commit = caching.token(matching.INDEX_VERSION)
    assert after_commit != during
    factories.agency("乙社工")
    matching.invalidate()
    during = caching.token(matching.INDEX_VERSION)
    db.session.rollback()
    assert caching.token(matching.INDEX_VERSION) == during
    db.session.commit()
    assert caching.token(matching.INDEX_VERSION) == during  # the rolled-back transaction's bump is forgotten


def test_a_token_written_by_another_process_rebuilds_the_warm_index_at_its_next_use(app):
    factories.agency("甲社工")
    on = localtime.today()
    matching.invalidate()
    first = matching.warm_index(on)
    assert matching.warm_index(on) is first  # kept while nothing changed
    caching.bump(matching.INDEX_VERSION)  # what invalidate() in another process writes (this one's memory kept)
    rebuilt = matching.warm_index(on)
    assert rebuilt is not first
    assert matching.warm_index(on) is rebuilt


# ---------------------------------------------------------------- two gunicorn processes, one database, one Redis


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Client:
    """One user's cookie against one server; form bodies may repeat a field (lists)."""

    def __init__(self, port: int):
        self.port, self.cookie = port, ""

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, str, dict]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {"Cookie": self.cookie} if self.cookie else {}
        body = None
        if form is not None:
            body = urlencode(form, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            text = response.read().decode("utf-8", "replace")
        finally:
            connection.close()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie" and value.startswith("session="):
                self.cookie = value.split(";", 1)[0]
        return response.status, text, dict(response.getheaders())

    def csrf(self, path: str) -> str:
        status, page, _headers = self.request("GET", path)
        assert status == 200, (path, status)
        return CSRF_RE.search(page).group(1)

    def login(self, username: str) -> None:
        status, _text, headers = self.request("POST", "/login", {
            "username": username, "password": DEMO_PASSWORD, "csrf_token": self.csrf("/login")})
        assert status == 302 and "/login" not in headers.get("Location", ""), (username, status)

    def page(self, path: str) -> str:
        status, text, _headers = self.request("GET", path)
        assert status == 200, (path, status)
        return text


def start_gunicorn(instance: Path, env: dict[str, str]) -> tuple[subprocess.Popen, int]:
    """One gunicorn process (one worker) serving the test database with the dashboard cache on (not waited for)."""
    port = _free_port()
    log = open(instance / f"gunicorn-{port}.log", "a+")  # noqa: SIM115 - closed with the process
    # append mode: the child writes at the end whatever offset this process's seek(0) and read leave in the file
    # description they share (with "w+" a line written between the two landed at 0, over the first lines)
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}", "--log-level", "warning",
         "socialforce:create_app(DASHBOARD_CACHE_SECONDS=60)"],
        cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    process.log = log
    return process, port


def wait_until_serving(process: subprocess.Popen, port: int) -> None:
    """Return once the server answers its login page."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if Client(port).request("GET", "/login")[0] == 200:
                return
        except OSError:
            time.sleep(0.2)
    process.log.seek(0)
    raise AssertionError(f"gunicorn did not start: {process.log.read()[-3000:]}")


def stop_gunicorn(processes: list[subprocess.Popen]) -> None:
    """Stop the gunicorn processes we started (each master with its worker)."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        process.log.close()


@pytest.fixture
def two_servers(app, redis_url, tmp_path):
    """Two gunicorn processes on the test database and one Redis (its own key prefix, removed afterwards)."""
    import redis

    db.session.commit()
    prefix = f"sf-test-{uuid.uuid4().hex[:8]}:"
    env = {**os.environ, "SOCIALFORCE_ENV": "testing", "SOCIALFORCE_INSTANCE": str(tmp_path),
           "DATABASE_URL": db.engine.url.render_as_string(hide_password=False), "CACHE_REDIS_URL": redis_url,
           "CACHE_KEY_PREFIX": prefix, "PYTHONWARNINGS": "ignore"}
    env.pop("CACHE_TYPE", None)
    servers = []
    try:
        for _ in range(2):
            servers.append(start_gunicorn(tmp_path, env))
        for process, port in servers:
            wait_until_serving(process, port)
        yield [port for _process, port in servers], redis.Redis.from_url(redis_url), prefix
    finally:
        stop_gunicorn([process for process, _port in servers])
        store = redis.Redis.from_url(redis_url)
        keys = list(store.scan_iter(match=prefix + "*"))
        if keys:
            store.delete(*keys)


def _figure(page: str, table: str, row_label: str) -> int:
    """The last cell (total) of a dashboard table's row."""
    html = page[page.index(f'id="table-{table}"'):]
    html = html[:html.index("</table>")]
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", html, flags=re.S):
        cells = [unescape(re.sub(r"<[^>]+>", "", cell)).strip()
                 for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, flags=re.S)]
        if cells and cells[0] == row_label:
            return int(cells[-1])
    raise AssertionError(f"no row {row_label!r} in table {table}")


def _offer_form(offer: ServiceOffer, town_ids: list[int], csrf: str) -> dict:
    return {"csrf_token": csrf, "title": offer.title, "description": offer.description,
            "category_ids": [c.id for c in offer.categories], "town_ids": town_ids,
            "slots_per_week": str(offer.slots_per_week), "windows": [str(b) for b in range(21) if offer.windows >> b & 1],
            "valid_from": offer.valid_from.isoformat(), "valid_to": offer.valid_to.isoformat()}


@pytest.mark.slow
def test_a_change_through_one_gunicorn_process_is_seen_through_the_other_at_once(two_servers):
    """Dashboard: B serves the entry A built (an unaudited write stays unseen), and an audited change made through
    B shows through A at its next view. Matching: an offer edited through B leaves A's ranking at A's next view
    (without the shared version token A would keep its warm index for 10 minutes: the offer count is unchanged)."""
    (port_a, port_b), store, prefix = two_servers
    # the world: a household with a counselling item in 龙泉街道, two agencies serving it from there (no radius)
    jia, _ = factories.agency("甲社工")
    yi, _ = factories.agency("乙社工")
    for agency in (jia, yi):
        agency.radius_km = 0.0
    household = factories.household("longquan")
    item = factories.item(household, "counselling", description="需要心理疏导")
    factories.user("citystaff", Role.city_staff)
    factories.user("yiadmin", Role.agency_admin, provider_id=yi.id)
    counselling = factories.category("counselling")
    db.session.commit()
    staff_a, staff_b, yi_b = Client(port_a), Client(port_b), Client(port_b)
    staff_a.login("citystaff")
    staff_b.login("citystaff")
    yi_b.login("yiadmin")
    today = localtime.today()
    board = f"/staff/dashboard?from={(today - timedelta(days=30)).isoformat()}&to={today.isoformat()}"

    # the dashboard: A builds it into Redis; B serves that very entry
    assert _figure(staff_a.page(board), "items_by_category", counselling.name_zh) == 1
    assert list(store.scan_iter(match=prefix + "dashboard:*")), "the dashboard A built is not in the shared cache"
    factories.item(household, "counselling", description="未经审计的写入")  # no audit row: the data version stays
    db.session.commit()
    assert _figure(staff_b.page(board), "items_by_category", counselling.name_zh) == 1  # A's entry, not rebuilt
    # an audited change through B (a new item) is seen through A at its next view
    form = {"csrf_token": staff_b.csrf(f"/staff/households/{household.id}/items/new"), "category_id": counselling.id,
            "member_id": "", "description": "需要每周心理疏导", "priority": "normal", "frequency": "once",
            "slots_needed": "1", "windows": ["0", "1"]}
    status, _text, _headers = staff_b.request("POST", f"/staff/households/{household.id}/items/new", form)
    assert status == 302
    assert _figure(staff_a.page(board), "items_by_category", counselling.name_zh) == 3

    # matching: A's warm index lists both agencies; 乙 edits its offer through B to serve 滨湖镇 only
    item_page = f"/staff/items/{item.id}"
    ranked = staff_a.page(item_page)
    assert "甲社工" in ranked and "乙社工" in ranked
    assert "乙社工" in staff_a.page(item_page)  # A's index is warm and still right
    offer = db.session.scalar(sa.select(ServiceOffer).where(ServiceOffer.provider_id == yi.id))
    path = f"/agency/offers/{offer.id}/edit"
    status, _text, _headers = yi_b.request("POST", path, _offer_form(offer, [factories.town("binhu").id],
                                                                     yi_b.csrf(path)))
    assert status == 303
    db.session.rollback()
    assert [t.code for t in db.session.get(ServiceOffer, offer.id).towns] == ["binhu"]
    ranked = staff_a.page(item_page)
    assert "甲社工" in ranked and "乙社工" not in ranked
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ServiceItem)) == 3
