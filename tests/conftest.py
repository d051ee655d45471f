"""Shared fixtures: one migrated database per session (SQLite, or PostgreSQL via DATABASE_URL),
emptied after every test except its reference tables; a test client; demo logins."""
from __future__ import annotations

import contextvars
import os
import re

import flask_migrate
import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from socialforce import create_app
from socialforce.platform.extensions import db
from socialforce.platform.reference import ensure_reference_data
from tests.platform.worker_support import REDIS_URL, redis_available

REFERENCE_TABLES = {"counties", "towns", "assistance_categories", "service_categories", "alembic_version"}
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def database_url(tmp_path_factory) -> str:
    """The session's database: DATABASE_URL (PostgreSQL, schema reset) or a fresh SQLite file."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    """The app on a database built by the migrations, with the reference data."""
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=database_url(tmp_path_factory))
    with app.app_context():
        flask_migrate.upgrade()
        ensure_reference_data()
        db.session.commit()
    yield app
    with app.app_context():
        db.engine.dispose()


def empty_tables() -> None:
    """Delete every row outside the reference tables."""
    tables = [t for t in reversed(db.metadata.sorted_tables) if t.name not in REFERENCE_TABLES]
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(t.name for t in tables)
        db.session.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for table in tables:
            db.session.execute(table.delete())
    db.session.commit()


@pytest.fixture(autouse=True)
def _context(app):
    """Each test runs inside an app context and leaves the database as it found it."""
    with app.app_context():
        yield
        db.session.rollback()
        db.session.remove()
        empty_tables()


class IsolatedClient(FlaskClient):
    """A test client whose requests run outside the test's app context, as real requests do.

    Flask reuses an already pushed app context for a request, so `g` (CSRF token, logged-in user) and the
    database session would leak between requests of one test; an empty contextvars context prevents that.
    """

    def open(self, *args, **kwargs):
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture
def production_hashing(app, monkeypatch):
    """Passwords hashed at production's work factor (testing uses a cheaper one), for tests that time or race it."""
    from config import Config

    monkeypatch.setitem(app.config, "PASSWORD_HASH_METHOD", Config.PASSWORD_HASH_METHOD)


@pytest.fixture
def client(app):
    """A test client."""
    app.test_client_class = IsolatedClient
    return app.test_client()


@pytest.fixture
def demo(app):
    """A tiny seeded Tengzhou (committed); returns the seed's row counts."""
    from socialforce.platform.seed import seed_demo

    counts = seed_demo(scale=0.001)
    db.session.commit()
    return counts


CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(client, path: str = "/login") -> str:
    """The CSRF token from a page's form."""
    html = client.get(path, follow_redirects=True).get_data(as_text=True)
    match = CSRF_RE.search(html)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def login(client, username: str, password: str | None = None):
    """Log in through the login form; returns the final response."""
    from socialforce.platform.seed import DEMO_PASSWORD

    token = csrf_token(client)
    return client.post("/login", data={"username": username, "password": password or DEMO_PASSWORD,
                                       "csrf_token": token}, follow_redirects=True)


def postgres_available() -> bool:
    """Whether the PostgreSQL test server answers."""
    try:
        engine = sa.create_engine(POSTGRES_URL)
        with engine.connect():
            pass
        engine.dispose()
        return True
    except sa.exc.OperationalError:
        return False


@pytest.fixture
def redis_url():
    """The Redis test server, or a skip saying why (a failure when CI requires Redis)."""
    if not redis_available():
        if os.environ.get("SOCIALFORCE_REQUIRE_REDIS"):
            pytest.fail(f"Redis is required (SOCIALFORCE_REQUIRE_REDIS) but {REDIS_URL} does not answer")
        pytest.skip(f"Redis does not answer at {REDIS_URL} (set TEST_REDIS_URL or start redis-server)")
    return REDIS_URL
