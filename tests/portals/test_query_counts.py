"""No page loads its rows one query each (N+1): a crawl over every argument-free page of each demo role counts the
statements a page sends with 10 and with 25 rows a list (and with 3 and 10 latest rows on the home pages), and
every API list with 10 and 25 rows a page; the count must not grow with the rows shown."""
from __future__ import annotations

import contextlib
import re
from collections import Counter

import pytest
from sqlalchemy import event

from socialforce.platform.extensions import db
from socialforce.platform.services import overview
from tests.conftest import login
from tests.portals.api_support import bearer, token_for
from tests.portals.test_page_lists import portal_pages

ROLES = {"city": "/staff/", "town1": "/staff/", "agency1": "/agency/", "worker1": "/agency/", "unit1": "/unit/",
         "cadre1": "/unit/", "volunteer1": "/volunteer/", "village1": "/village/"}
IN_LIST = re.compile(r"IN \([^()]*\)")


@contextlib.contextmanager
def statements():
    """The SQL statements sent while the block runs."""
    sent: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        sent.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield sent
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def shape(statement: str) -> str:
    """A statement with its IN lists folded, so the same query for 10 or 25 keys reads the same."""
    return IN_LIST.sub("IN (...)", " ".join(statement.split()))


def sent_by(client, path: str) -> list[str]:
    """The statements one GET of `path` sends (after a first GET warmed per-process caches)."""
    client.get(path)
    with statements() as sent:
        assert client.get(path).status_code in (200, 302, 403), path
    return sent


@pytest.fixture
def fuller_demo(app):
    """A seeded Tengzhou large enough that every role's lists run past 25 rows (committed)."""
    from socialforce.platform.seed import seed_demo

    seed_demo(scale=0.005)
    db.session.commit()


@pytest.mark.parametrize("username", sorted(ROLES))
def test_no_page_loads_its_rows_one_by_one(app, fuller_demo, client, monkeypatch, username):
    login(client, username)
    prefix = ROLES[username]
    grew = {}
    for path in portal_pages(app, prefix) + ["/inbox/"]:
        monkeypatch.setattr(overview, "LATEST", 3)
        few = sent_by(client, path + "?per_page=10")
        monkeypatch.setattr(overview, "LATEST", 10)
        many = sent_by(client, path + "?per_page=25")
        if len(many) > len(few):
            grown = Counter(map(shape, many)) - Counter(map(shape, few))
            grew[path] = (len(few), len(many), [s[:160] for s in grown][:3])
    assert not grew, f"pages whose statements grow with their rows: {grew}"


API_ROLES = ("city", "town1", "agency1", "worker1", "unit1", "cadre1", "volunteer1")


@pytest.mark.parametrize("username", API_ROLES)
def test_no_api_list_loads_its_rows_one_by_one(app, fuller_demo, client, monkeypatch, username):
    headers = bearer(token_for(username))
    grew, compared = {}, []
    for path in portal_pages(app, "/api/v1/"):
        monkeypatch.setitem(app.config, "PAGE_SIZE", 10)
        client.get(path, headers=headers)
        with statements() as few:
            status = client.get(path, headers=headers).status_code
        if status != 200:
            continue
        compared.append(path)
        monkeypatch.setitem(app.config, "PAGE_SIZE", 25)
        with statements() as many:
            client.get(path, headers=headers)
        if len(many) > len(few):
            grown = Counter(map(shape, many)) - Counter(map(shape, few))
            grew[path] = (len(few), len(many), [s[:160] for s in grown][:3])
    assert len(compared) >= 3, f"too few API lists answered {username}: {compared}"
    assert not grew, f"API lists whose statements grow with their rows: {grew}"
