"""Exports too big for a request: over EXPORT_DIRECT_MAX_ROWS rows (10,000) a staff list becomes a background job
that writes the file into the instance folder for its owner (and city staff, who see every town) to download,
audited like every download.

The job's parameters hold ids and codes only: a households search text (a name, or a full ID number) and an ID
suffix are sealed with the data key (Fernet) before they are stored, and opened only by the worker.
"""
from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _

from socialforce.platform import crypto
from socialforce.platform.models import BackgroundJob, User, utcnow
from socialforce.platform.services import background, households
from socialforce.platform.services.exports import tables
from socialforce.platform.services.exports.writers import table_file

DEFAULT_DIRECT_MAX_ROWS = 10_000
FILE_DIR_MODE, FILE_MODE = 0o700, 0o600
KEEP_FILES_S = 24 * 3600
SEALED = ("q", "id_suffix")  # search text that may be a name or an ID number


def titles() -> dict[str, str]:
    """Each exportable list's name in the user's language."""
    return {"households": _("Households"), "items": _("Service items"), "orders": _("Orders")}


def _table(table: str, user: User, filters: dict):
    """(header, rows) of a staff list with its filters."""
    if table == "households":
        query = households.search(user, filters.get("q"), filters.get("id_suffix"), filters.get("town"),
                                  filters.get("category"))
        return tables.households_table(query)
    if table == "items":
        return tables.items_table(user, filters.get("status"), filters.get("town"), filters.get("category"))
    if table == "orders":
        return tables.orders_table(user, filters.get("state"), filters.get("town"), _found(filters))
    raise ValueError(f"unknown export table {table!r}")


def _found(filters: dict) -> dict:
    """The orders board's other filters kept in an export's filters (query-argument strings)."""
    return {k: filters[k] for k in ("category", "provider", "from", "to", "number") if filters.get(k)}


def row_count(table: str, user: User, filters: dict) -> int:
    """How many rows the list would have."""
    if table == "households":
        return tables.households_count(households.search(
            user, filters.get("q"), filters.get("id_suffix"), filters.get("town"), filters.get("category")))
    if table == "items":
        return tables.items_count(user, filters.get("status"), filters.get("town"), filters.get("category"))
    if table == "orders":
        return tables.orders_count(user, filters.get("state"), filters.get("town"), _found(filters))
    raise ValueError(f"unknown export table {table!r}")


def direct_max_rows() -> int:
    """The largest export sent directly in the request (EXPORT_DIRECT_MAX_ROWS, default 10,000)."""
    return int(current_app.config.get("EXPORT_DIRECT_MAX_ROWS", DEFAULT_DIRECT_MAX_ROWS))


def direct_table(table: str, user: User, filters: dict):
    """(header, rows) for a direct download."""
    return _table(table, user, filters)


def submit_if_large(table: str, fmt: str, user: User, filters: dict) -> BackgroundJob | None:
    """A queued export job when the list has more rows than a request may send; None for a direct download."""
    total = row_count(table, user, filters)
    if total <= direct_max_rows():
        return None
    clear = {k: v for k, v in filters.items() if k not in SEALED and v not in (None, "")}
    hidden = {k: filters[k] for k in SEALED if filters.get(k)}
    sealed = crypto.encrypt(json.dumps(hidden)) if hidden else None
    return background.submit("export_table", user, subject=f"export:{table}", table=table, fmt=fmt,
                             filters=clear, sealed=sealed, rows=total)


def files_dir() -> Path:
    """Where finished export files wait for their owner (private to the server's user)."""
    folder = Path(current_app.instance_path) / "job_files"
    folder.mkdir(parents=True, exist_ok=True, mode=FILE_DIR_MODE)
    folder.chmod(FILE_DIR_MODE)
    return folder


def _counted(rows: Iterable, report: Callable[[str, int, int], None], total: int) -> Iterator:
    done = 0
    for row in rows:
        yield row
        done += 1
        if done % 500 == 0:
            report("write_rows", done, total)
    report("write_rows", done, max(total, done))


def write_export(job: background.RunningJob) -> dict:
    """The export job: build the file (progress by rows), store it privately; its name and row count."""
    params = job.params
    filters = dict(params.get("filters") or {})
    if params.get("sealed"):
        filters.update(json.loads(crypto.decrypt(params["sealed"])))
    table, fmt = params["table"], params["fmt"]
    total = int(params.get("rows") or 0)
    job.report("read_rows", 0, total)
    header, rows = _table(table, job.owner, filters)
    name = titles()[table]
    data, filename = table_file(fmt, f"{name}-{utcnow():%Y%m%d}", header, _counted(rows, job.report, total),
                                sheet_name=name)
    sweep_files()
    stored = f"{job.id}-{secrets.token_hex(8)}.{fmt}"
    path = files_dir() / stored
    with os.fdopen(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE), "wb") as out:
        out.write(data)
    return {"file": stored, "filename": filename, "table": table, "format": fmt, "rows": job.done}


def read_file(result: dict) -> bytes | None:
    """The stored file of a finished export job (None once swept)."""
    name = Path(str(result.get("file") or "")).name
    path = files_dir() / name
    return path.read_bytes() if name and path.is_file() else None


def sweep_files(now: float | None = None) -> int:
    """Delete export files older than a day; how many were removed."""
    now = time.time() if now is None else now
    removed = 0
    for path in files_dir().iterdir():
        if path.is_file() and now - path.stat().st_mtime > KEEP_FILES_S:
            path.unlink(missing_ok=True)
            removed += 1
    return removed
