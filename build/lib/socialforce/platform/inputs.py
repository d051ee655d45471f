"""Where request values enter: one place that bounds ids, ints, dates and months, refuses NUL bytes and checks
texts against their columns, so no hostile value reaches the database as a 500.

- Path ids: the app's `int` URL converter accepts 1..2^31-1 (PostgreSQL's `integer`); anything else is a 404.
- Query and form ints: `request.args/form.get(name, type=int)` parses with `db_int` (out of range: the default).
- Dates and months in queries and forms: `parse_date` / `parse_datetime` / `parse_month` and the WTForms
  `DateField` accept only MIN_DATE..MAX_DATE, so date arithmetic at the calendar's edges never overflows.
- NUL bytes: refused with a 400 in the user's language before any view runs (PostgreSQL refuses them in text, and
  no form of this platform has a use for them: stripping would silently change what the user sent).
- Texts: a flush that would store a text longer than its column raises TextTooLong (a 400 naming the limit),
  on SQLite as on PostgreSQL, instead of truncating silently or failing in the database.
"""
from __future__ import annotations

import functools
from datetime import date, datetime

import sqlalchemy as sa
import wtforms
from flask import Flask, Request, has_request_context, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter

DB_INT_MIN, DB_INT_MAX = -(2**31), 2**31 - 1  # PostgreSQL `integer`, the type of every id and count column
MIN_DATE, MAX_DATE = date(1900, 1, 1), date(2199, 12, 31)  # any date this platform plans, reports or records


def db_int(text: str | int) -> int:
    """An int that fits an integer column; ValueError otherwise (also for 20-digit or non-numeric text)."""
    text = str(text).strip()
    value = int(text) if len(text) <= 12 else None  # int() of a 20-digit or 5,000-digit text is not needed
    if value is None or not DB_INT_MIN <= value <= DB_INT_MAX:
        raise ValueError(f"not an integer in {DB_INT_MIN}..{DB_INT_MAX}")
    return value


def parse_int(text: str | None) -> int | None:
    """A whole number that fits an integer column, or None."""
    try:
        return db_int(text or "")
    except ValueError:
        return None


def parse_ids(values: list[str]) -> tuple[int, ...]:
    """Ids from checkboxes; anything that is not an id (1..2^31-1) becomes -1, for the service to refuse."""
    return tuple(n if (n := parse_int(v)) is not None and n > 0 else -1 for v in values)


def page_number(name: str = "page") -> int:
    """The requested page (?page=, 1..2^31-1; anything else is page 1); 1 outside a request."""
    return max(1, request.args.get(name, 1, type=int)) if has_request_context() else 1


PAGE_SIZES = (10, 25, 50, 100)  # the page sizes a list offers (?per_page=); anything else is the default


def page_size(default: int, name: str = "per_page") -> int:
    """The requested page size (?per_page=, one of PAGE_SIZES); anything else, or outside a request, the default."""
    if not has_request_context():
        return default
    size = request.args.get(name, default, type=int)
    return size if size in PAGE_SIZES else default


def parse_date(text: str | None) -> date | None:
    """A YYYY-MM-DD date within MIN_DATE..MAX_DATE, or None (empty, malformed or out of range)."""
    moment = parse_datetime(text, "%Y-%m-%d")
    return moment.date() if moment else None


def parse_datetime(text: str | None, fmt: str | None = None) -> datetime | None:
    """A datetime (ISO, or in `fmt`) whose date is within MIN_DATE..MAX_DATE, or None."""
    text = (text or "").strip()
    try:
        moment = datetime.strptime(text, fmt) if fmt else datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if MIN_DATE <= moment.date() <= MAX_DATE else None


def parse_month(text: str | None) -> date | None:
    """The first day of a YYYY-MM month within MIN_DATE..MAX_DATE, or None."""
    moment = parse_datetime(text, "%Y-%m")
    return moment.date() if moment else None


class DateField(wtforms.DateField):
    """WTForms' date field, taking only MIN_DATE..MAX_DATE (forms import it from here)."""

    def pre_validate(self, form) -> None:
        """Refuse a date outside the platform's range with a message, like a malformed one."""
        if self.data is not None and not MIN_DATE <= self.data <= MAX_DATE:
            self.data = None
            raise wtforms.validators.StopValidation(_l("Enter a date between %(first)s and %(last)s.",
                                                       first=MIN_DATE.isoformat(), last=MAX_DATE.isoformat()))


class IdConverter(IntegerConverter):
    """The app's `int` converter: a path id is 1..2^31-1, so a bigger one is a 404, never a database error."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", DB_INT_MAX)
        super().__init__(map, *args, **kwargs)


class InputDict(ImmutableMultiDict):
    """request.args / request.form: `type=int` parses with `db_int`, so an out-of-range number is the default."""

    def get(self, key, default=None, type=None):  # noqa: A002 - werkzeug's signature
        """The value as werkzeug gives it, ints bounded to the integer column range."""
        return super().get(key, default, db_int if type is int else type)

    def getlist(self, key, type=None):  # noqa: A002 - werkzeug's signature
        """The values as werkzeug gives them, ints bounded (out-of-range ones are dropped)."""
        return super().getlist(key, db_int if type is int else type)


class InputRequest(Request):
    """The app's request: its query and form values are InputDicts."""

    parameter_storage_class = InputDict


class NulByte(BadRequest):
    """A query, form or path value holds a NUL byte."""


class TextTooLong(BadRequest):
    """A text is longer than the column it goes to."""

    def __init__(self, column: str, limit: int):
        super().__init__(_("A text is too long (at most %(limit)s characters). Please shorten it and try again.",
                           limit=limit))
        self.column = column


def _has_nul(values) -> bool:
    return any("\x00" in key or any("\x00" in v for v in values.getlist(key)) for key in values)


def refuse_nul() -> None:
    """Before every view: a NUL byte in a path, query or form value (or an upload's name) is a 400, before anything
    is read or written."""
    form = request.method != "GET"
    if ("\x00" in request.path or _has_nul(request.args) or (form and _has_nul(request.form))
            or (form and any("\x00" in (f.filename or "") for f in request.files.values()))):
        raise NulByte(_("The request contains a NUL character, which no field accepts. Please remove it and "
                        "try again."))


@functools.cache
def _limited_texts(mapper) -> tuple[tuple[str, str, int], ...]:
    """(attribute, table.column, length) of a mapped class's String(n) columns."""
    return tuple((mapper.get_property_by_column(c).key, f"{c.table.name}.{c.name}", c.type.length)
                 for c in mapper.columns if isinstance(c.type, sa.String) and c.type.length)


def check_text_lengths(session: Session, _context, _instances) -> None:
    """Before every flush: a new or changed text longer than its String(n) column raises TextTooLong."""
    for obj in (*session.new, *session.dirty):
        for key, column, limit in _limited_texts(sa.inspect(obj).mapper):
            value = getattr(obj, key, None)
            if isinstance(value, str) and len(value) > limit:
                raise TextTooLong(column, limit)


def init_app(app: Flask) -> None:
    """Install the bounded converter and request values, the NUL rule and the length check."""
    app.url_map.converters["int"] = IdConverter
    app.request_class = InputRequest
    app.before_request(refuse_nul)
    if not sa.event.contains(Session, "before_flush", check_text_lengths):
        sa.event.listen(Session, "before_flush", check_text_lengths)
