"""Configuration: production refuses to start without its secrets; SQLite runs in WAL mode."""
import pytest
import sqlalchemy as sa

from config import INSTANCE_DIR, _database_url, config_for
from socialforce import create_app
from socialforce.platform.extensions import db


def test_production_refuses_to_start_without_secret_key(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("SOCIALFORCE_DATA_KEY", "x")
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app("production")


def test_unknown_environment_is_refused():
    with pytest.raises(RuntimeError, match="unknown SOCIALFORCE_ENV"):
        config_for("staging")


def test_database_url_switches_to_postgresql_with_psycopg3(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db:5432/x")
    assert _database_url("x.db") == "postgresql+psycopg://u@db:5432/x"


def test_default_database_is_sqlite_in_the_instance_folder(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert _database_url("x.db") == f"sqlite:///{INSTANCE_DIR / 'x.db'}"


def test_sqlite_connections_use_wal_and_a_busy_timeout(app):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite-only settings; this run uses PostgreSQL")
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(sa.text("PRAGMA busy_timeout")).scalar() == 10000
        assert conn.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1


def test_passwords_are_hashed_by_the_configured_method_and_production_keeps_scrypts_full_cost(app):
    from socialforce.platform.models import Role
    from socialforce.platform.services import accounts

    assert config_for("production").PASSWORD_HASH_METHOD == "scrypt:32768:8:1"
    assert config_for("development").PASSWORD_HASH_METHOD == "scrypt:32768:8:1"
    user = accounts.create_user("hashed", "demo1234", Role.city_staff, "City")
    assert user.password_hash.startswith(app.config["PASSWORD_HASH_METHOD"] + "$")
    assert accounts.authenticate("hashed", "demo1234") == user
