"""Importing households, members and service items from staff spreadsheets: upload, preview, import, template.

Rules (see socialforce/platform/imports/): every row is validated before anything is written; the write is one
transaction; household numbers and member IDs already in the database are skipped (an item identical to one
the household already has is skipped too), so re-importing a file adds nothing. Cells starting with = + - @
are refused, never stored. Every sheet of a workbook is either imported as a kind or ignored for a stated reason
(imports/sheets.py), and a file the reader cannot understand is refused with what is wrong; either way the
preview's upload is deleted when it fails.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime
from typing import IO

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation

from socialforce.platform.extensions import db
from socialforce.platform.imports import cells, reading
from socialforce.platform.imports.reading import RawSheet, UnreadableFile
from socialforce.platform.imports.rules import (
    HELP_SHEET,
    HOUSEHOLDS,
    ITEMS,
    KINDS,
    MEMBERS,
    REFERENCE_SHEET,
    Kind,
    reason_message,
    sheet_reason,
)
from socialforce.platform.imports.sheets import Table, locate
from socialforce.platform.imports.uploads import Upload, sweep
from socialforce.platform.imports.validation import Plan, RowError, Validator
from socialforce.platform.imports.writing import write_plan
from socialforce.platform.models import (
    AssistanceCategory,
    Household,
    Role,
    ServiceCategory,
    Town,
    User,
    Village,
)
from socialforce.platform.services import ServiceError, audit
from socialforce.platform.transactions import is_transient

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
IMPORT_LOCK_KEY = 0x50F7_1A7  # PostgreSQL advisory lock taken by every import run
Progress = Callable[[str, int, int], None]


def max_bytes() -> int:
    """The largest accepted upload (IMPORT_MAX_BYTES, default 20 MB)."""
    return int(current_app.config.get("IMPORT_MAX_BYTES", DEFAULT_MAX_BYTES))


def store_upload(stream: IO[bytes], filename: str, kind: str | None, user: User, now: datetime) -> Upload:
    """Save an upload under a random name after the size cap and file-signature checks."""
    if kind and kind not in KINDS:
        raise ServiceError(_("Unknown kind of data."), status=400, field="kind")
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
    upload: Upload, user: User, now: datetime, progress: Progress | None = None
) -> tuple[Validator, Plan]:
    """Read and check every row of the upload (nothing is written); every sheet gets a report in the plan."""
    status = upload.status()
    check = Validator(user, now.date(), status["format"] == "csv", progress)
    chosen = KINDS.get(status["kind"]) if status["format"] == "csv" and status["kind"] else None
    try:
        with reading.open_sheets(upload.data_path, status["format"], status["filename"]) as found:
            grouped = _tables(found, chosen, check.plan)
            check.households(grouped["households"])
            check.members(grouped["members"])
            check.items(grouped["items"])
    except UnreadableFile as e:
        raise ServiceError(str(e), status=400) from None
    if not check.plan.errors and not any(check.plan.read.values()):
        raise ServiceError(
            _("The file has header rows but no data rows (an empty template?); there is nothing to import."),
            status=400,
        )
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
    return {
        "read": plan.read,
        "new": plan.new,
        "existing": plan.existing,
        "error_total": plan.error_total,
        "errors": [e.as_dict() for e in plan.errors],
        "sheets": plan.sheets,
    }


def preview(upload: Upload, user: User, now: datetime) -> dict:
    """Validate the upload and store the counts and errors for the preview page."""
    try:
        _check, plan = validate(upload, user, now, upload.progress)
    except ServiceError as e:
        upload.discard_data()
        upload.save(state="unreadable", message=e.message)
        raise
    except Exception:
        upload.discard_data()
        raise
    state = "invalid" if plan.errors else ("nothing_new" if not any(plan.new.values()) else "valid")
    if state != "valid":
        upload.discard_data()  # it holds full ID numbers and can never be imported as it is
    return upload.save(state=state, progress=None, **_summary(plan))


def run_import(upload: Upload, user: User, now: datetime, ip: str | None = None) -> dict[str, int]:
    """Re-validate and, only if every row is valid, write all new rows (caller commits once); audited.

    Imports run one at a time: a run first takes the import lock (held until its transaction ends), so a
    second run of the same rows, started at the same moment, validates only after the first committed and
    finds them already there.
    """
    upload.save(state="running", progress={"stage": "validate", "done": 0, "total": 0})
    _lock_imports()
    check, plan = validate(upload, user, now, upload.progress)
    if plan.errors:
        upload.discard_data()
        upload.save(state="invalid", progress=None, **_summary(plan))
        raise ServiceError(
            _("The file has errors now (the database changed since the preview); nothing was imported."),
            status=409,
        )
    written = write_plan(plan, check, user, now, upload.progress)
    audit.record(
        "import_households",
        user,
        ip=ip,
        format=upload.status()["format"],
        **written,
        skipped_households=plan.existing["households"],
        skipped_members=plan.existing["members"],
        skipped_items=plan.existing["items"],
    )
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
    """The import template: a sheet per kind with Chinese headers, text ID columns and lists of values."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="DDEBF7")
    for kind in (HOUSEHOLDS, MEMBERS, ITEMS):
        sheet = workbook.create_sheet(kind.sheet)
        sheet.append([c.header + ("*" if c.required else "") for c in kind.columns])
        for position, column in enumerate(kind.columns, start=1):
            letter = sheet.cell(row=1, column=position).column_letter
            sheet.cell(row=1, column=position).font = bold
            sheet.cell(row=1, column=position).fill = fill
            sheet.column_dimensions[letter].width = 30 if column.max_length and column.max_length > 60 else 18
            sheet.column_dimensions[letter].number_format = "@"  # IDs and phones stay text
        sheet.freeze_panes = "A2"
        _add_choices(sheet, kind)
    _add_reference_sheet(workbook, user)
    _add_help_sheet(workbook)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _add_choices(sheet, kind) -> None:
    lists = {
        "relation": cells.RELATIONS,
        "priority": ("普通", "高", "紧急"),
        "frequency": ("一次", "每周", "每月"),
        "disability": ("0", "1", "2", "3", "4"),
    }
    for position, column in enumerate(kind.columns, start=1):
        if column.key in lists:
            letter = sheet.cell(row=1, column=position).column_letter
            rule = DataValidation(
                type="list", formula1='"' + ",".join(lists[column.key]) + '"', allow_blank=True
            )
            rule.add(f"{letter}2:{letter}100000")
            sheet.add_data_validation(rule)


def _add_reference_sheet(workbook: Workbook, user: User) -> None:
    sheet = workbook.create_sheet(REFERENCE_SHEET)
    sheet.append(["镇街", "村居", "救助类别", "服务类别"])
    towns = sa.select(Town).order_by(Town.id)
    if user.role == Role.town_staff:
        towns = towns.where(Town.id == user.town_id)
    places = [
        (t.name_zh, v)
        for t in db.session.scalars(towns)
        for v in db.session.scalars(
            sa.select(Village.name).where(Village.town_id == t.id).order_by(Village.id)
        )
    ]
    assistance = db.session.scalars(
        sa.select(AssistanceCategory.name_zh).order_by(AssistanceCategory.id)
    ).all()
    services = db.session.scalars(sa.select(ServiceCategory.name_zh).order_by(ServiceCategory.id)).all()
    for index in range(max(len(places), len(assistance), len(services))):
        town, village = places[index] if index < len(places) else ("", "")
        sheet.append(
            [
                town,
                village,
                assistance[index] if index < len(assistance) else "",
                services[index] if index < len(services) else "",
            ]
        )


def _add_help_sheet(workbook: Workbook) -> None:
    sheet = workbook.create_sheet(HELP_SHEET)
    sheet.column_dimensions["A"].width = 110
    for line in (
        "带 * 的列必填。每个表第一行为表头，请勿修改表头文字。",
        "家庭：户编号唯一；镇街写全称（如 龙泉街道）；村居须是该镇街下的村居（见“可选值”表）。",
        "成员：户编号须在“家庭”表或系统中已存在；身份证号为18位，单元格须为文本格式（不要存成数字，"
        "Excel 只保留15位）；与户主关系：" + "、".join(cells.RELATIONS) + "；残疾等级 0（无）到 4。",
        "救助类别可填多个，用、分隔（如 低保、残疾人生活补贴）；纳入救助日期格式 2024-01-31，不填为导入当天。",
        "服务事项：成员身份证号可不填（面向全户）；填写时须是该户成员。优先级：普通、高、紧急；频次：一次、每周、每月。",
        "期望时段：如 工作日上午、周六下午、每天晚上；不填或“不限”表示任何时间。",
        "以 = + - @ 开头的单元格会被拒绝（防止公式注入）。",
        "系统中已有的户编号、身份证号会跳过，不会重复导入；同一文件可放心重复导入。",
    ):
        sheet.append([line])
