"""Print (issue 17): the orders board prints as dispatch slips (派单单), one record per A4 page, with the board's
filters; the monthly report has a printable page with the workbook's figures; both carry the bureau's header and the
print stylesheet, which breaks the page between records."""
from __future__ import annotations

import html as html_lib
import io
import re
from pathlib import Path

import openpyxl
import sqlalchemy as sa
from flask_babel import gettext as _

from socialforce.platform.extensions import db
from socialforce.platform.models import Household, Town
from tests.conftest import login

PRINT_CSS = Path(__file__).resolve().parents[2] / "socialforce" / "platform" / "static" / "print.css"
BOARD_IDS = re.compile(r'<td><a href="/staff/items/\d+">#(\d+)</a></td>')
SLIP_IDS = re.compile(r'<section class="print-record card mb-3" id="slip-(\d+)">')
SHEET = re.compile(r'<section class="report-sheet[^"]*" id="sheet-\d+">\s*<h2 class="h5">([^<]+)</h2>(.*?)</section>', re.S)


def norm(text: str) -> str:
    """A cell as text, numbers compared by value (the workbook reads 100.0 back as 100)."""
    return str(float(text)) if re.fullmatch(r"-?\d+(\.\d+)?", text) else text


def cells(fragment: str) -> list[list[str]]:
    """The body rows of a table as text."""
    body = re.search(r"<tbody>(.*?)</tbody>", fragment, re.S)
    return [[norm(html_lib.unescape(c).strip()) for c in re.findall(r"<td>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S)] if body else []


def test_the_print_stylesheet_breaks_the_page_between_records():
    css = PRINT_CSS.read_text()
    assert re.search(r"\.print-record \+ \.print-record[^{]*\{[^}]*break-before: page", css)
    assert re.search(r"@page \{ size: A4", css)


def test_dispatch_slips_print_the_boards_page_one_record_each(demo, client):
    login(client, "town1")
    query = "sort=number&per_page=10"
    board = client.get(f"/staff/orders?{query}").get_data(as_text=True)
    assert f'id="print-slips" href="/staff/orders/print?{query}"' in board.replace("&amp;", "&")
    response = client.get(f"/staff/orders/print?{query}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    ids = SLIP_IDS.findall(page)
    assert ids and ids == BOARD_IDS.findall(board)  # the same orders, in the board's order
    assert 'class="print-header"' in page and "派单单 #" in page and "接单人（签字）" in page
    # the household's head is named masked, never in full
    code = re.search(r"<td>(TZ-[\w-]+) · ([^<]+)</td>", page)
    head = db.session.scalar(sa.select(Household.head_name).where(Household.code == code.group(1)))
    assert code.group(2) == head[0] + "*" * (len(head) - 1) and head not in page
    # a filter applies to the slips too, and a refused one is named (status 400) with nothing printed
    state = client.get("/staff/orders/print?state=completed").get_data(as_text=True)
    assert "已完成" in state and "待接单" not in re.sub(r"<select.*?</select>", "", state, flags=re.S)
    bad = client.get("/staff/orders/print?from=2026-10-31&to=2026-10-01")
    refused = bad.get_data(as_text=True)
    assert bad.status_code == 400 and not SLIP_IDS.findall(refused) and 'id="print-refused"' in refused


def test_the_monthly_report_prints_the_workbooks_figures(demo, client, app):
    with app.test_request_context():
        expected = [_(name) for name in ("Summary", "Items by category", "Orders by provider", "Visits",
                                         "Household satisfaction", "Material assistance")]
    login(client, "city")
    town = db.session.scalar(sa.select(Town.id).where(Town.code == "longquan"))
    form = client.get("/staff/reports/monthly").get_data(as_text=True)
    assert 'formaction="/staff/reports/monthly/print"' in form
    response = client.get(f"/staff/reports/monthly/print?town={town}&month=2026-10")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and 'class="print-header"' in page
    sheets = SHEET.findall(page)
    assert [html_lib.unescape(title) for title, _body in sheets] == expected
    book = openpyxl.load_workbook(io.BytesIO(client.get(f"/staff/reports/monthly?town={town}&month=2026-10").data))
    for (title, body), sheet in zip(sheets, book.worksheets, strict=True):
        rows = [["" if v is None else norm(str(v)) for v in row] for row in sheet.iter_rows(min_row=2, values_only=True)]
        assert cells(body) == rows, title


def test_a_refused_month_is_named_beside_its_field(demo, client):
    login(client, "town1")
    for path in ("/staff/reports/monthly/print", "/staff/reports/monthly"):
        response = client.get(f"{path}?month=2026-13")
        page = response.get_data(as_text=True)
        assert response.status_code == 400, path
        assert re.search(r'class="form-control is-invalid" type="month" id="month" name="month" value="2026-13"', page)
        assert re.search(r'<div class="invalid-feedback d-block" id="month-error">[^<]+</div>', page), path
    jinghe = db.session.scalar(sa.select(Town.id).where(Town.code == "jinghe"))
    assert client.get(f"/staff/reports/monthly/print?month=2026-10&town={jinghe}").status_code == 403
