"""Backup and restore: `flask backup` takes an online snapshot of the SQLite database, `flask restore` brings it
back; PostgreSQL is refused with the pg_dump advice."""
from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa

from socialforce import create_app
from socialforce.platform import backup
from socialforce.platform.extensions import db
from socialforce.platform.models import AuditLog
from socialforce.platform.services import audit


@pytest.fixture
def file_app(tmp_path):
    """An app on its own SQLite file (the restore replaces the whole database)."""
    import flask_migrate

    app = create_app("testing", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'live.db'}")
    with app.app_context():
        flask_migrate.upgrade()
        yield app
        db.session.remove()
        db.engine.dispose()


def _actions() -> list[str]:
    db.session.remove()
    return list(db.session.scalars(sa.select(AuditLog.action).order_by(AuditLog.id)))


def test_backup_then_restore_brings_the_data_back(file_app, tmp_path):
    audit.record("before_backup", None)
    db.session.commit()
    runner = file_app.test_cli_runner()
    target = tmp_path / "snapshot.db"
    result = runner.invoke(args=["backup", str(target)])
    assert result.exit_code == 0, result.output
    assert backup.integrity_ok(target)
    with sqlite3.connect(target) as copy:
        assert copy.execute("SELECT action FROM audit_log").fetchall() == [("before_backup",)]

    audit.record("after_backup", None)
    db.session.commit()
    assert _actions() == ["before_backup", "after_backup"]
    assert runner.invoke(args=["restore", str(target)]).exit_code != 0  # needs --yes
    assert _actions() == ["before_backup", "after_backup"]
    result = runner.invoke(args=["restore", str(target), "--yes"])
    assert result.exit_code == 0, result.output
    assert _actions() == ["before_backup"]
    assert runner.invoke(args=["backup", str(target)]).exit_code != 0  # never overwrites a backup


def test_restore_refuses_a_file_that_is_not_a_database(file_app, tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database" * 100)
    result = file_app.test_cli_runner().invoke(args=["restore", str(junk), "--yes"])
    assert result.exit_code != 0 and "integrity" in result.output


def test_postgresql_is_pointed_to_pg_dump(tmp_path):
    app = create_app("testing", SQLALCHEMY_DATABASE_URI="postgresql+psycopg://nobody@127.0.0.1:1/none")
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["backup", str(tmp_path / "x.db")])
    assert result.exit_code != 0 and "pg_dump" in result.output
    assert not (tmp_path / "x.db").exists()
