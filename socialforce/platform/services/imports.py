"""Importing the bureau's spreadsheets (households with members and items, organisations with contracts and
pairings, volunteers, payments, corrections).

Upload, preview, import, template. Each family of kinds is validated and written by its own module, dispatched
from imports/families.py.

Rules (see socialforce/platform/imports/): every row is validated before anything is written; the write is one
transaction; household numbers and member IDs already in the database are skipped (an item identical to one
the household already has is skipped too), so re-importing a file adds nothing. Cells starting with = + - @
are refused, never stored. Every sheet of a workbook is either imported as a kind or ignored for a stated reason
(imports/sheets.py), and a file the reader cannot understand is refused with what is wrong; either way the
preview's upload is deleted when it fails.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from itertools import groupby
from typing import IO

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from socialforce.platform.extensions import db
from socialforce.platform.heap import frozen_heap
from socialforce.platform.imports import checked, reading
from socialforce.platform.imports.families import FAMILIES
from socialforce.platform.imports.messages import kind_label, reason_message, sheet_reason
from socialforce.platform.imports.reading import RawSheet, UnreadableFile
from socialforce.platform.imports.rules import KINDS, Kind
from socialforce.platform.imports.sheets import Table, locate
from socialforce.platform.imports.template import template_workbook
from socialforce.platform.imports.uploads import Upload, sweep
from socialforce.platform.imports.validation import Plan, RowError, Validator
from socialforce.platform.models import (
    Household,
    User,
)
from socialforce.platform.services import ServiceError, audit
from socialforce.platform.transactions import is_transient

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
IMPORT_LOCK_KEY = 0x50F7_1A7  # PostgreSQL advisory lock taken by every import run
Progress = Callable[[str, int, int], None]


def max_bytes() -> int:
    """The largest accepted upload (IMPORT_MAX_BYTES, default 20 MB)."""
    return int(current_app.config.get("IMPORT_MAX_BYTES", DEFAULT_MAX_BYTES))


VOLUNTEER_STATUSES = ("pending", "approved")  # the rule staff choose for new imported volunteers


def store_upload(
    stream: IO[bytes],
    filename: str,
    kind: str | None,
    user: User,
    now: datetime,
    options: dict | None = None,
) -> Upload:
    """Save an upload under a random name after the size cap and file-signature checks.

    `options` are the choices made on the upload form: `volunteer_status` ("pending" or "approved"), the status
    new volunteers of the file get.
    """
    if kind and kind not in KINDS:
        raise ServiceError(_("Unknown kind of data."), status=400, field="kind")
    options = dict(options or {})
    options.setdefault("volunteer_status", "pending")
    if options["volunteer_status"] not in VOLUNTEER_STATUSES:
        raise ServiceError(_("Choose whether imported volunteers are approved or pending."), status=400,
                           field="volunteer_status")
    sweep(now)
    upload = Upload.new()
    limit = max_bytes()
    with upload.open_data() as out:
        copied = _copy_limited(stream, out, limit)
    if copied > limit:
        upload.discard_data()
        raise ServiceError(
            _(
                "The file is larger than %(mb)s MB. Split it into smaller files.",
                mb=limit // (1024 * 1024) or 1,
            ),
            status=413,
            field="file",
        )
    try:
        fmt = reading.sniff(upload.data_path, filename)
    except UnreadableFile as e:
        upload.discard_data()
        raise ServiceError(str(e), status=400, field="file") from None
    upload.save(
        user_id=user.id,
        filename=filename[-120:],
        format=fmt,
        kind=kind or "",
        options=options,
        size=copied,
        state="uploaded",
        created_at=now.isoformat(),
    )
    return upload


def _copy_limited(stream: IO[bytes], out, limit: int) -> int:
    copied = 0
    while chunk := stream.read(1024 * 1024):
        copied += len(chunk)
        if copied > limit:
            return copied
        out.write(chunk)
    return copied


def get_upload(token: str, user: User) -> Upload | None:
    """The user's own upload with this token (None for anyone else's or an unknown token)."""
    upload = Upload.find(token)
    if upload is None or upload.status().get("user_id") != user.id:
        return None
    return upload


def validate(
    upload: Upload, user: User, now: datetime, progress: Progress | None = None, record: bool = False
) -> tuple[Validator, Plan]:
    """Read and check every row of the upload (nothing is written); every sheet gets a report in the plan.

    With `record` (the preview), the valid rows' checked values are kept beside the upload when every family of
    the file supports it and no row has an error, so that the confirm checks them against the database only.
    """
    status = upload.status()
    check = Validator(user, now.date(), status["format"] == "csv", progress, status.get("options"))
    chosen = KINDS.get(status["kind"]) if status["format"] == "csv" and status["kind"] else None
    try:
        with reading.open_sheets(upload.data_path, status["format"], status["filename"]) as found:
            grouped = _tables(found, chosen, check.plan)
            check.families = [family for family in FAMILIES if family.present(grouped)]
            check.plan.kinds = [kind.key for family in check.families for kind in family.kinds] or check.plan.kinds
            if record and check.families and all(family.recheck for family in check.families):
                check.recorder = checked.Recorder(upload.data_path, checked.key(check, upload.data_path, status))
            for family in check.families:
                family.validate(check, grouped)
    except UnreadableFile as e:
        _drop_checked(check)
        raise ServiceError(str(e), status=400) from None
    except BaseException:
        _drop_checked(check)
        raise
    if not check.plan.errors and not any(check.plan.read.values()):
        _drop_checked(check)
        raise ServiceError(
            _("The file has header rows but no data rows (an empty template?); there is nothing to import."),
            status=400,
        )
    if check.recorder is not None:
        if check.plan.errors:
            _drop_checked(check)
        else:
            check.recorder.keep(check.plan.read, [family.key for family in check.families])
            check.recorder = None
    return check, check.plan


def _drop_checked(check: Validator) -> None:
    if check.recorder is not None:
        check.recorder.drop()
        check.recorder = None


def _recheck(upload: Upload, user: User, now: datetime) -> tuple[Validator, Plan] | None:
    """The plan from the preview's checked rows, checked again against the database only; None to check in full.

    None when there are no checked rows, their key does not match (another file, user, day, options or reference
    data) or the database now refuses a row (the full check then reports it by cell). See imports/checked.py.
    """
    if not checked.path_of(upload.data_path).exists():
        return None
    status = upload.status()
    check = Validator(user, now.date(), status["format"] == "csv", upload.progress, status.get("options"))
    found = checked.load(upload.data_path, checked.key(check, upload.data_path, status))
    if found is None:
        return None
    footer, batches = found
    by_key = {family.key: family for family in FAMILIES}
    families = [by_key.get(key) for key in footer["families"]]
    if not families or any(family is None or family.recheck is None for family in families):
        return None
    check.families = families
    check.plan.kinds = [kind.key for family in families for kind in family.kinds]
    check.plan.read.update(footer["read"])
    try:
        for key, group in groupby(batches, key=lambda batch: batch[0]):
            if key not in footer["families"]:
                return None
            by_key[key].recheck(check, (rows for _, rows in group))
    except (ValueError, KeyError, TypeError):  # a damaged file of checked rows: check the upload itself
        return None
    if check.plan.errors:
        return None
    return check, check.plan


def _tables(found: list[RawSheet], chosen: Kind | None, plan: Plan) -> dict[str, list[Table]]:
    """The sheets to import by kind; every sheet's report goes to the plan, an unrecognised one as an error."""
    grouped: dict[str, list[Table]] = {key: [] for key in KINDS}
    for sheet in found:
        report, table = locate(sheet, chosen)
        plan.sheets.append(report.as_dict())
        if table is not None:
            grouped[table.kind.key].append(table)
        elif report.outcome == "error":
            plan.add_error(
                RowError(sheet.name, sheet.head[0][0], "", "", "sheet_not_recognised", report.params)
            )
    if not plan.errors and not any(grouped.values()):
        raise ServiceError(
            _(
                "No sheet with the template's headers was found (sheets: %(names)s). Download the template "
                "and copy your data into it.",
                names="、".join(sheet.name for sheet in found)[:200],
            ),
            status=400,
        )
    return grouped


def _summary(plan: Plan) -> dict:
    kinds = [key for key in plan.kinds if plan.read[key]] or plan.kinds  # the template's empty sheets left out

    def shown(counts: dict[str, int]) -> dict[str, int]:
        return {key: counts[key] for key in kinds}

    return {
        "read": shown(plan.read),
        "new": shown(plan.new),
        "updated": shown(plan.updated),
        "existing": shown(plan.existing),
        "error_total": plan.error_total,
        "errors": [e.as_dict() for e in plan.errors],
        "sheets": plan.sheets,
    }


@frozen_heap()
def preview(upload: Upload, user: User, now: datetime) -> dict:
    """Validate the upload and store the counts and errors for the preview page."""
    try:
        _check, plan = validate(upload, user, now, upload.progress, record=True)
    except ServiceError as e:
        upload.discard_data()
        upload.save(state="unreadable", message=e.message)
        raise
    except Exception:
        upload.discard_data()
        raise
    changes = any(plan.new.values()) or any(plan.updated.values())
    state = "invalid" if plan.errors else ("valid" if changes else "nothing_new")
    if state != "valid":
        upload.discard_data()  # it holds full ID numbers and can never be imported as it is
    return upload.save(state=state, progress=None, **_summary(plan))


@frozen_heap()
def run_import(upload: Upload, user: User, now: datetime, ip: str | None = None) -> dict[str, int]:
    """Re-validate and, only if every row is valid, write all new rows (caller commits once); audited.

    When the preview of this same file kept its checked rows, only the rules that read the database are applied
    again (imports/checked.py); any error there means the whole file is checked again.

    Imports run one at a time: a run first takes the import lock (held until its transaction ends), so a
    second run of the same rows, started at the same moment, validates only after the first committed and
    finds them already there.
    """
    upload.save(state="running", progress={"stage": "validate", "done": 0, "total": 0})
    _lock_imports()
    check, plan = _recheck(upload, user, now) or validate(upload, user, now, upload.progress)
    if plan.errors:
        upload.discard_data()
        upload.save(state="invalid", progress=None, **_summary(plan))
        raise ServiceError(
            _("The file has errors now (the database changed since the preview); nothing was imported."),
            status=409,
        )
    written: dict[str, int] = {}
    for family in check.families:
        if not any(plan.read[kind.key] for kind in family.kinds):
            continue  # an empty sheet of the template: nothing to write or audit
        counts = family.write(plan, check, user, now, upload.progress)
        skipped = {f"skipped_{kind.key}": plan.existing[kind.key] for kind in family.kinds}
        audit.record(family.audit_action, user, ip=ip, format=upload.status()["format"], **counts, **skipped)
        written.update(counts)
    return written


def _lock_imports() -> None:
    """Wait for any other import to end (PostgreSQL advisory lock; on SQLite the database's write lock)."""
    try:
        if db.session.get_bind().dialect.name == "postgresql":
            db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(IMPORT_LOCK_KEY)))
        else:
            db.session.execute(sa.update(Household).where(Household.id < 0).values(code=Household.code))
    except sa.exc.OperationalError as e:
        if not is_transient(e):
            raise
        raise ServiceError(
            _(
                "The database is busy with another import or change; nothing was imported. Confirm again in "
                "a moment."
            ),
            status=409,
        ) from None


def finish(upload: Upload, written: dict[str, int]) -> dict:
    """Mark a committed import done and delete the uploaded file."""
    upload.discard_data()
    state = "done" if any(written.values()) else "nothing_new"
    return upload.save(state=state, written=written, progress=None, errors=[])


def abandon(upload: Upload, message: str) -> None:
    """After a run that wrote nothing: mark it failed (unless it found errors) and let it be tried again."""
    if upload.status().get("state") == "running":
        upload.save(state="failed", message=message, progress=None)
    upload.release()


def error_message(error: dict) -> str:
    """One stored error's explanation in the user's language."""
    return reason_message(error["code"], error.get("params") or {})


def sheet_message(sheet: dict) -> str:
    """What happens to one sheet of the file, and why, in the user's language."""
    return sheet_reason(sheet["reason"], sheet.get("params") or {})


def error_report(status: dict) -> tuple[list[str], list[list]]:
    """The header and rows of the downloadable error report (values already masked)."""
    header = [_("Sheet"), _("Row"), _("Column"), _("Value"), _("Problem")]
    rows = [
        [e["sheet"], e["row"], e["column"], e["value"], error_message(e)] for e in status.get("errors", [])
    ]
    return header, rows


def template_xlsx(user: User) -> bytes:
    """The import template: a sheet per kind with Chinese headers, lists of allowed values and a help sheet."""
    return template_workbook(user)


def written_summary(written: dict[str, int]) -> str:
    """What an import wrote, in the user's language, e.g. "Households 3, Members 5"."""
    parts = [f"{kind_label(key)} {written[key]}" for key in KINDS if written.get(key)]
    if written.get("volunteers_updated"):
        parts.append(_("volunteers updated %(n)s", n=written["volunteers_updated"]))
    for key in ("villages", "agencies", "units", "contracts", "pairings"):
        if written.get(f"{key}_updated"):
            parts.append(_("%(kind)s updated %(n)s", kind=kind_label(key), n=written[f"{key}_updated"]))
    if written.get("enrollments"):
        parts.append(_("assistance categories %(n)s", n=written["enrollments"]))
    return "、".join(parts)
