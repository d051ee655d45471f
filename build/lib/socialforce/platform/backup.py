"""Online backup and restore of the SQLite database (`flask backup`, `flask restore`).

SQLite: the sqlite3 online-backup API copies a consistent snapshot while the application keeps running, and the
copy is checked with PRAGMA integrity_check. PostgreSQL: use the server's own tools instead, e.g.
`pg_dump -Fc -f socialforce.dump "$DATABASE_URL"` and `pg_restore --clean --if-exists -d "$DATABASE_URL"
socialforce.dump` (the commands below refuse to run on PostgreSQL and print this advice).
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

import click
from flask import Flask
from sqlalchemy.engine import make_url

from socialforce.platform.extensions import db

PG_ADVICE = ('On PostgreSQL use pg_dump -Fc -f socialforce.dump "$DATABASE_URL" to back up and '
             'pg_restore --clean --if-exists -d "$DATABASE_URL" socialforce.dump to restore.')


class BackupError(RuntimeError):
    """A backup or restore that could not be made safely."""


def sqlite_path() -> Path:
    """The file of the app's SQLite database (BackupError on another database)."""
    url = make_url(str(db.engine.url))
    if url.get_backend_name() != "sqlite" or not url.database:
        raise BackupError(PG_ADVICE)
    return Path(url.database)


def integrity_ok(path: Path) -> bool:
    """Whether PRAGMA integrity_check passes on a SQLite file."""
    connection = sqlite3.connect(path)
    try:
        return connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    except sqlite3.DatabaseError:
        return False
    finally:
        connection.close()


def copy_database(source: Path, target: Path) -> None:
    """Copy one SQLite database into another with the online-backup API (a consistent snapshot)."""
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target)
    try:
        with dst:
            src.backup(dst, pages=1024)
    finally:
        dst.close()
        src.close()


def backup(target: Path) -> Path:
    """Write a checked snapshot of the live database to `target` (which must not exist yet)."""
    if target.exists():
        raise BackupError(f"{target} exists already; choose a new file name")
    copy_database(sqlite_path(), target)
    if not integrity_ok(target):
        target.unlink()
        raise BackupError("the copy failed its integrity check; nothing was kept")
    return target


def restore(source: Path) -> Path:
    """Replace the live database's contents with a checked backup (stop the web and scheduler processes first)."""
    if not source.is_file() or not integrity_ok(source):
        raise BackupError(f"{source} is not a readable SQLite database that passes its integrity check")
    live = sqlite_path()
    db.session.remove()
    db.engine.dispose()
    copy_database(source, live)
    return live


@click.command("backup")
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
def backup_command(target: Path) -> None:
    """Back up the SQLite database to TARGET while the application keeps running."""
    try:
        click.echo(f"backup written to {backup(target)}")
    except BackupError as e:
        raise click.ClickException(str(e)) from None


@click.command("restore")
@click.argument("source", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--yes", is_flag=True, help="Confirm that the current data may be replaced.")
def restore_command(source: Path, yes: bool) -> None:
    """Replace the SQLite database with the backup SOURCE (stop the server and scheduler first)."""
    if not yes:
        raise click.ClickException("restore replaces every row of the database: add --yes to confirm")
    try:
        click.echo(f"restored {source} into {restore(source)}")
    except BackupError as e:
        raise click.ClickException(str(e)) from None


def init_app(app: Flask) -> None:
    """Register the backup and restore commands."""
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
