"""Spreadsheet exports: .xlsx and .csv writers that neutralise formula injection, and a download response."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from enum import Enum
from urllib.parse import quote

import sqlalchemy as sa
from flask import Response
from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from socialforce.platform.extensions import db
from socialforce.platform.i18n import local_time
from socialforce.platform.labels import FREQUENCY, ITEM_STATUS, ORDER_STATE, PRIORITY
from socialforce.platform.models import (
    AssistanceCategory,
    Enrollment,
    Household,
    ItemStatus,
    Member,
    Order,
    OrderState,
    Provider,
    ServiceCategory,
    ServiceItem,
    Town,
    User,
    Village,
)
from socialforce.platform.scoping import household_filter

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIMETYPE = "text/csv; charset=utf-8"
_SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
_FILENAME_FORBIDDEN = re.compile(r'[\x00-\x1f\x7f"\\/:*?<>|;]+')

Sheet = tuple[str, Sequence[str], Iterable[Sequence]]


def neutralise(value):
    """The value made safe for a spreadsheet: text that would run as a formula gets a leading apostrophe.

    Enum members become their value; other non-string values (numbers, dates, None) are returned unchanged.
    """
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def _xlsx_cell(value):
    value = neutralise(value)
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("", value)
    if isinstance(value, bool | int | float | date | datetime) or value is None:
        return value
    return str(value)


def _sheet_title(name: str, used: set[str]) -> str:
    title = _SHEET_NAME_FORBIDDEN.sub("_", name).strip("'")[:31] or "Sheet"
    base, n = title, 2
    while title.lower() in used:
        suffix = f" ({n})"
        title, n = base[: 31 - len(suffix)] + suffix, n + 1
    used.add(title.lower())
    return title


def write_xlsx(sheets: Sequence[Sheet]) -> bytes:
    """An .xlsx workbook (write-only, streams large data) with one sheet per (name, header, rows)."""
    workbook = Workbook(write_only=True)
    used: set[str] = set()
    for name, header, rows in sheets:
        sheet = workbook.create_sheet(_sheet_title(name, used))
        sheet.append([_xlsx_cell(h) for h in header])
        for row in rows:
            sheet.append([_xlsx_cell(v) for v in row])
    if not sheets:
        workbook.create_sheet("Sheet")
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _csv_cell(value):
    value = neutralise(value)
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, bool):
        return int(value)
    return value


def write_csv(header: Sequence[str], rows: Iterable[Sequence]) -> bytes:
    """A CSV file in UTF-8 with a byte-order mark (so Excel shows Chinese correctly), CRLF line ends."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow([_csv_cell(h) for h in header])
    for row in rows:
        writer.writerow([_csv_cell(v) for v in row])
    return b"\xef\xbb\xbf" + text.getvalue().encode("utf-8")


def safe_filename(name: str) -> str:
    """A file name without path separators, quotes or control characters (Chinese kept)."""
    cleaned = _FILENAME_FORBIDDEN.sub("_", unicodedata.normalize("NFC", name)).strip(" ._")
    return cleaned[:120] or "export"


def download_response(data: bytes, filename: str) -> Response:
    """A download response for xlsx/csv bytes; the extension of `filename` picks the content type.

    Content-Disposition carries an ASCII fallback and the full name as filename*=UTF-8''...
    """
    filename = safe_filename(filename)
    mimetype = XLSX_MIMETYPE if filename.lower().endswith(".xlsx") else CSV_MIMETYPE
    ascii_name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode().strip(" ._")
    if "." not in ascii_name:
        ascii_name = "export" + ("." + filename.rsplit(".", 1)[-1] if "." in filename else "")
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def table_file(
    fmt: str, basename: str, header: Sequence[str], rows: Iterable[Sequence], sheet_name: str | None = None
) -> tuple[bytes, str]:
    """One table as the bytes and name of `basename`.xlsx or `basename`.csv (fmt is 'xlsx' or 'csv')."""
    if fmt == "xlsx":
        return write_xlsx([(sheet_name or basename, header, rows)]), basename + ".xlsx"
    if fmt == "csv":
        return write_csv(header, rows), basename + ".csv"
    raise ValueError(f"unknown export format {fmt!r}")


# ---------------------------------------------------------------- staff lists as tables (scoped, masked only)


def _local(moment: datetime | None) -> str:
    return local_time(moment)


def households_table(query: sa.Select) -> tuple[list[str], Iterator[list]]:
    """The households of a households.search() query: one row each, phones masked, no ID numbers."""
    ids = query.with_only_columns(Household.id).order_by(None).subquery()
    sizes = dict(
        db.session.execute(
            sa.select(Member.household_id, sa.func.count())
            .where(Member.household_id.in_(sa.select(ids.c.id)))
            .group_by(Member.household_id)
        ).all()
    )
    categories: dict[int, set[str]] = {}
    for household_id, name in db.session.execute(
        sa.select(Member.household_id, AssistanceCategory.name_zh)
        .join(Enrollment, Enrollment.member_id == Member.id)
        .join(AssistanceCategory)
        .where(Member.household_id.in_(sa.select(ids.c.id)))
    ):
        categories.setdefault(household_id, set()).add(name)
    header = [
        _("Household number"),
        _("Town"),
        _("Village"),
        _("Head of household"),
        _("Address"),
        _("Phone (masked)"),
        _("Members"),
        _("Assistance categories"),
        _("Created"),
    ]
    rows_query = (
        sa.select(
            Household.id,
            Household.code,
            Town.name_zh,
            Village.name,
            Household.head_name,
            Household.address,
            Household.phone_masked,
            Household.created_at,
        )
        .join(Town, Town.id == Household.town_id)
        .join(Village, Village.id == Household.village_id)
        .where(Household.id.in_(sa.select(ids.c.id)))
        .order_by(Household.id)
    )

    def rows() -> Iterator[list]:
        for hid, code, town, village, head, address, phone, created in db.session.execute(
            rows_query.execution_options(yield_per=2000)
        ):
            yield [
                code,
                town,
                village,
                head,
                address,
                phone or "",
                sizes.get(hid, 0),
                "、".join(sorted(categories.get(hid, ()))),
                _local(created),
            ]

    return header, rows()


def items_table(
    user: User, status: str | None = None, town_id: int | None = None, category_id: int | None = None
) -> tuple[list[str], Iterator[list]]:
    """Service items in the user's scope (optionally by status, town, category); member IDs masked."""

    query = (
        sa.select(
            ServiceItem.id,
            Household.code,
            Town.name_zh,
            Member.name,
            Member.id_masked,
            ServiceCategory.name_zh,
            ServiceItem.description,
            ServiceItem.priority,
            ServiceItem.frequency,
            ServiceItem.status,
            ServiceItem.created_at,
        )
        .join(Household, Household.id == ServiceItem.household_id)
        .join(Town, Town.id == Household.town_id)
        .join(ServiceCategory, ServiceCategory.id == ServiceItem.category_id)
        .outerjoin(Member, Member.id == ServiceItem.member_id)
        .where(household_filter(user))
        .order_by(ServiceItem.id)
    )
    if status in ItemStatus.__members__:
        query = query.where(ServiceItem.status == ItemStatus(status))
    if town_id:
        query = query.where(Household.town_id == town_id)
    if category_id:
        query = query.where(ServiceItem.category_id == category_id)
    header = [
        _("Item number"),
        _("Household number"),
        _("Town"),
        _("Member"),
        _("ID number (masked)"),
        _("Service category"),
        _("Description"),
        _("Priority"),
        _("Frequency"),
        _("Status"),
        _("Created"),
    ]

    def rows() -> Iterator[list]:
        for (
            item_id,
            code,
            town,
            member,
            masked,
            category,
            description,
            priority,
            frequency,
            state,
            created,
        ) in db.session.execute(query.execution_options(yield_per=2000)):
            yield [
                item_id,
                code,
                town,
                member or "",
                masked or "",
                category,
                description,
                str(PRIORITY.get(str(priority), priority)),
                str(FREQUENCY.get(str(frequency), frequency)),
                str(ITEM_STATUS.get(str(state), state)),
                _local(created),
            ]

    return header, rows()


def orders_table(
    user: User, state: str | None = None, town_id: int | None = None
) -> tuple[list[str], Iterator[list]]:
    """Orders in the user's scope (optionally by state and town)."""

    query = (
        sa.select(
            Order.id,
            ServiceItem.id,
            Household.code,
            Town.name_zh,
            ServiceCategory.name_zh,
            Provider.name,
            Order.state,
            Order.attempt,
            Order.created_at,
            Order.dispatched_at,
            Order.responded_at,
            Order.completed_at,
        )
        .join(ServiceItem, ServiceItem.id == Order.item_id)
        .join(Household, Household.id == ServiceItem.household_id)
        .join(Town, Town.id == Household.town_id)
        .join(ServiceCategory, ServiceCategory.id == ServiceItem.category_id)
        .outerjoin(Provider, Provider.id == Order.provider_id)
        .where(household_filter(user))
        .order_by(Order.id)
    )
    if state in OrderState.__members__:
        query = query.where(Order.state == OrderState(state))
    if town_id:
        query = query.where(Household.town_id == town_id)
    header = [
        _("Order number"),
        _("Item number"),
        _("Household number"),
        _("Town"),
        _("Service category"),
        _("Provider"),
        _("State"),
        _("Attempt"),
        _("Created"),
        _("Dispatched at"),
        _("Responded at"),
        _("Completed at"),
    ]

    def rows() -> Iterator[list]:
        for (
            order_id,
            item_id,
            code,
            town,
            category,
            provider,
            order_state,
            attempt,
            created,
            dispatched,
            responded,
            completed,
        ) in db.session.execute(query.execution_options(yield_per=2000)):
            yield [
                order_id,
                item_id,
                code,
                town,
                category,
                provider or _("Volunteers"),
                str(ORDER_STATE.get(str(order_state), order_state)),
                attempt,
                _local(created),
                _local(dispatched),
                _local(responded),
                _local(completed),
            ]

    return header, rows()
