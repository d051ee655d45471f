"""Development keys: `make run` signs sessions with a random key created once under instance/ (mode 600), never
with a published constant; a cookie signed with a published value is rejected; production refuses such a key."""
from __future__ import annotations

import logging
import stat

import pytest
from cryptography.fernet import Fernet
from flask import Flask
from flask.sessions import SecureCookieSessionInterface

import socialforce.platform.app as app_module
from config import LEGACY_DEV_SECRET_KEY, PUBLISHED_SECRET_KEYS, DevelopmentConfig
from socialforce import create_app
from socialforce.platform import crypto, instance_keys
from socialforce.platform.extensions import db
from socialforce.platform.models import Role
from socialforce.platform.services import accounts
from tests.conftest import IsolatedClient, login


@pytest.fixture
def instance(tmp_path, monkeypatch):
    """An empty instance folder for development apps, and no keys from the environment."""
    monkeypatch.setattr(app_module, "INSTANCE_DIR", tmp_path)
    monkeypatch.setattr(DevelopmentConfig, "SECRET_KEY", None)
    monkeypatch.setattr(DevelopmentConfig, "DATA_KEY", None)
    return tmp_path


def _dev_app(database_uri: str) -> Flask:
    app = create_app("development", SQLALCHEMY_DATABASE_URI=database_uri)
    app.test_client_class = IsolatedClient
    return app


def _dispose(app: Flask) -> None:
    with app.app_context():
        db.engine.dispose()


def test_first_run_creates_private_random_keys_that_later_runs_keep(instance):
    first = _dev_app(f"sqlite:///{instance / 'dev.db'}")
    for name in (instance_keys.SECRET_KEY_FILE, instance_keys.DATA_KEY_FILE):
        assert stat.S_IMODE((instance / name).stat().st_mode) == 0o600
    assert first.config["SECRET_KEY"] == (instance / "secret_key").read_text()
    assert first.config["SECRET_KEY"] not in PUBLISHED_SECRET_KEYS and len(first.config["SECRET_KEY"]) >= 48
    Fernet(first.config["DATA_KEY"].encode())  # a valid Fernet key
    assert first.config["DATA_KEY"] != crypto.derived_data_key(LEGACY_DEV_SECRET_KEY)
    with first.app_context():
        token = crypto.encrypt("110101199003074477")
    second = _dev_app(f"sqlite:///{instance / 'dev.db'}")
    assert (second.config["SECRET_KEY"], second.config["DATA_KEY"]) == (first.config["SECRET_KEY"],
                                                                        first.config["DATA_KEY"])
    with second.app_context():
        assert crypto.decrypt(token) == "110101199003074477"
    _dispose(first)
    _dispose(second)


def test_an_older_development_database_keeps_its_data_readable(instance, caplog):
    (instance / instance_keys.LEGACY_DATABASE).touch()  # a database encrypted with the old derived key
    with caplog.at_level(logging.WARNING, logger="socialforce.keys"):
        app = _dev_app(f"sqlite:///{instance / 'dev.db'}")
    assert app.config["DATA_KEY"] == crypto.derived_data_key(LEGACY_DEV_SECRET_KEY)
    assert app.config["SECRET_KEY"] not in PUBLISHED_SECRET_KEYS  # sessions are private all the same
    assert "old public development key" in caplog.text
    _dispose(app)


def _resigned(cookie: str, source: Flask, secret_key: str) -> str:
    """The same session content signed with another key."""
    data = SecureCookieSessionInterface().get_signing_serializer(source).loads(cookie)
    forger = Flask("forger")
    forger.secret_key = secret_key
    return SecureCookieSessionInterface().get_signing_serializer(forger).dumps(data)


def test_a_session_signed_with_a_published_key_is_rejected(app, instance):
    accounts.create_user("city", "demo1234", Role.city_staff, "City")
    db.session.commit()
    dev = _dev_app(app.config["SQLALCHEMY_DATABASE_URI"])
    client = dev.test_client()
    assert login(client, "city").request.path == "/staff/"
    cookie = client.get_cookie("session").value
    replay = dev.test_client()
    replay.set_cookie("session", _resigned(cookie, dev, dev.config["SECRET_KEY"]))
    assert replay.get("/staff/").status_code == 200  # the re-signed cookie is otherwise a valid session
    for published in sorted(PUBLISHED_SECRET_KEYS):
        forged = dev.test_client()
        forged.set_cookie("session", _resigned(cookie, dev, published))
        response = forged.get("/staff/")
        assert response.status_code == 302 and response.headers["Location"].startswith("/login"), published
    _dispose(dev)


@pytest.mark.parametrize("published", sorted(PUBLISHED_SECRET_KEYS))
def test_a_published_secret_key_is_refused_in_production_and_development(instance, monkeypatch, published):
    monkeypatch.setenv("SECRET_KEY", published)
    monkeypatch.setenv("SOCIALFORCE_DATA_KEY", Fernet.generate_key().decode())
    with pytest.raises(RuntimeError, match="published"):
        create_app("production")
    monkeypatch.setattr(DevelopmentConfig, "SECRET_KEY", published)
    with pytest.raises(RuntimeError, match="published"):
        create_app("development")
