"""Hostile values, generated from app.url_map: every route, as a user whose role may use it, gets boundary ids,
2^31, 2^63, 20-digit numbers, NUL bytes, the calendar's edges and over-long text in each path argument, query
parameter and form field it reads (with a valid CSRF token): no answer is a 5xx and no row is written.

The parameters a route reads are found by running it once with a recording parameter dict (every key a view asks
`request.args`/`request.form` for, WTForms included) plus the fields of the forms its GET page shows.
"""
from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa

from socialforce.platform import inputs
from socialforce.platform.extensions import db
from tests.conftest import CSRF_RE, IsolatedClient, login
from tests.security.filling import Filler, discard_uploads, hsds_ids, import_token
from tests.security.support import USERS, allowed_roles, routes, user

pytestmark = [pytest.mark.slow, pytest.mark.once]

NUMBERS = ["0", "2147483647", "2147483648", "9223372036854775808", "99999999999999999999"]
TEXTS = ["a\x00b", "0001-01-01", "9999-12-31", "9999-12", "0000-00", "x" * 5000]
HOSTILE = NUMBERS + ["-2147483649"] + TEXTS
ONE_AT_A_TIME = ["99999999999999999999", "2147483648", "9999-12-31", "0001-01-01", "9999-12", "x" * 5000]
# Free text: a number or a date is a valid reason or note, so such a request may write; NUL and over-long text not.
FREE_TEXT = {"reason", "notes", "comment", "description", "q", "actor", "action", "purpose"}
LOGGED_TABLES = {"audit_log", "login_throttles"}  # a refused request may still be audited or counted (a failed login)
LAST = ("public.logout",)  # ends the walking user's session: walked last
FIELD_RE = re.compile(r'<(?:input|select|textarea)\b[^>]*\bname="([^"]+)"')


class Reads:
    """The parameter keys views asked for while recording."""

    keys: set[str] = set()


class RecordingDict(inputs.InputDict):
    """An InputDict that remembers which keys were asked for."""

    def __contains__(self, key):
        Reads.keys.add(key)
        return super().__contains__(key)

    def get(self, key, *args, **kwargs):
        Reads.keys.add(key)
        return super().get(key, *args, **kwargs)

    def getlist(self, key, *args, **kwargs):
        Reads.keys.add(key)
        return super().getlist(key, *args, **kwargs)

    def __getitem__(self, key):
        Reads.keys.add(key)
        return super().__getitem__(key)


def row_counts() -> dict[str, int]:
    """Rows per table (reference and logging tables included; the caller ignores the logging ones)."""
    db.session.rollback()
    return {t.name: db.session.scalar(sa.select(sa.func.count()).select_from(t)) for t in db.metadata.sorted_tables}


def _users_for(endpoint: str) -> list[str | None]:
    allowed = allowed_roles(endpoint)
    if not isinstance(allowed, frozenset):
        return [None]
    return [name for name in USERS if user(name).role in allowed]


class Walker:
    """One logged-in client per demo user, a CSRF token each, and the URL filler of the access matrix."""

    def __init__(self, app, filler: Filler):
        self.app, self.filler = app, filler
        self.clients: dict[str | None, tuple[object, str]] = {}

    def client(self, username: str | None):
        if username not in self.clients:
            client = self.app.test_client()
            if username:
                assert login(client, username).status_code == 200
            html = client.get("/login" if username is None else "/", follow_redirects=True).get_data(as_text=True)
            self.clients[username] = (client, CSRF_RE.search(html).group(1))
        return self.clients[username]

    def target(self, route) -> tuple[str | None, dict[str, str]]:
        """A user who may use the route and its path arguments filled with that user's own objects (when no
        user owns one, the first user and id 1: the hostile values still reach the route)."""
        portal = route.endpoint.split(".")[0]
        candidates = _users_for(route.endpoint)
        for username in candidates:
            u = user(username) if username else None
            values = {name: self.filler.value(name, u, portal) for name in route.params}
            if None not in values.values():
                return username, {name: str(value) for name, value in values.items()}
        return candidates[0], dict.fromkeys(route.params, "1")


def _url(rule: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        rule = re.sub(r"<(?:[a-z]+:)?" + name + ">", value.replace("\x00", "%00"), rule)
    return rule


def _may_write(fields: dict[str, str]) -> bool:
    """Whether the request is legitimate input after all: only free-text fields, short text, no NUL."""
    return bool(fields) and set(fields) <= FREE_TEXT and all(len(v) <= 200 and "\x00" not in v
                                                             for v in fields.values())


def _send(client, method: str, url: str, token: str, fields: dict[str, str], query: dict[str, str]):
    full = url + ("?" + urlencode(query) if query else "")
    if method == "GET":
        return client.get(full)
    return client.open(full, method=method, data={**fields, "csrf_token": token})


def _discover(walker: Walker, route, username, url, monkeypatch) -> set[str]:
    """The keys the route reads: recorded on one plain request, plus the fields of its GET page's forms."""
    client, token = walker.client(username)
    Reads.keys = set()
    with monkeypatch.context() as patch:
        patch.setattr(walker.app.request_class, "parameter_storage_class", RecordingDict)
        _send(client, route.method, url, token, {}, {}).close()
        if route.method != "GET":
            page = client.get(url)
            if page.status_code == 200 and page.mimetype == "text/html":
                Reads.keys |= set(FIELD_RE.findall(page.get_data(as_text=True)))
            page.close()
    return Reads.keys - {"csrf_token"}


def _hostile_paths(rule: str, values: dict[str, str]) -> list[str]:
    """The rule with one path argument at a time replaced by each hostile value."""
    return [_url(rule, dict(values, **{name: value})) for name in values
            for value in (HOSTILE if name.endswith("_id") else [*HOSTILE, "..", "%2e%2e"])]


def test_no_route_answers_a_hostile_value_with_a_5xx_or_a_write(demo, app, monkeypatch):
    app.test_client_class = IsolatedClient
    tokens = {name: import_token(user(name)) for name in ("city", "town1", "town2")}
    db.session.commit()
    walker = Walker(app, Filler(hsds_ids(app.test_client()), tokens))
    failures: list[str] = []
    walked, sent = 0, 0
    try:
        ordered = sorted(routes(app), key=lambda r: (r.endpoint in LAST, r.rule, r.method))
        for route in ordered:
            if route.endpoint == "static":
                continue
            username, values = walker.target(route)
            url = _url(route.rule, values)
            client, token = walker.client(username)
            keys = _discover(walker, route, username, url, monkeypatch)
            before = row_counts()
            requests = [(url, dict.fromkeys(keys, v), dict.fromkeys(keys, v)) for v in HOSTILE]
            requests += [(url, {k: v}, {k: v}) for k in sorted(keys) for v in ONE_AT_A_TIME]
            requests += [(hostile, {}, {}) for hostile in _hostile_paths(route.rule, values)]
            for target, fields, query in [r for r in requests if not _may_write(r[1])]:
                response = _send(client, route.method, target, token, fields, query)
                sent += 1
                if response.status_code >= 500:
                    failures.append(f"{username} {route.method} {target[:120]} fields={sorted(fields)[:8]} "
                                    f"value={next(iter(fields.values()), '')[:24]!r}: {response.status_code}")
                response.close()
            after = row_counts()
            written = {t: after[t] - before[t] for t in after if after[t] != before[t] and t not in LOGGED_TABLES}
            if written:
                failures.append(f"{username} {route.method} {route.rule}: rows written {written}")
            walked += 1
        assert not failures, f"{len(failures)} hostile requests failed:\n" + "\n".join(failures[:80])
        assert walked >= 100 and sent > 1000
    finally:
        discard_uploads(tokens)
