"""Dashboard pages: every figure links to a list with that many records, downloads, the monthly report, scoping."""
from __future__ import annotations

import html
import io
import re

import openpyxl
import pytest
import sqlalchemy as sa
from flask_babel import gettext as _

from socialforce.platform.extensions import db
from socialforce.platform.models import Town
from tests.conftest import login

YEAR = "from=2025-11-01&to=2026-10-31"
CELL_LINK = re.compile(r'<td data-value="([^"]*)"><a href="(/staff/dashboard/list/[^"]+)">')
COUNT = re.compile(r'id="record-count" data-count="(\d+)"')


def _town_id(code: str) -> int:
    return db.session.scalar(sa.select(Town.id).where(Town.code == code))


@pytest.mark.parametrize("username", ["city", "town1"])
def test_every_figure_links_to_a_list_of_exactly_that_many_records(demo, client, username):
    login(client, username)
    page = client.get(f"/staff/dashboard?{YEAR}")
    assert page.status_code == 200
    links = CELL_LINK.findall(page.get_data(as_text=True))
    assert len(links) > 20
    checked = 0
    for value, href in links:
        listing = client.get(html.unescape(href))
        assert listing.status_code == 200, href
        if value.isdigit():  # counts (hours cells link to the records they sum)
            assert COUNT.search(listing.get_data(as_text=True)).group(1) == value, href
            checked += 1
    assert checked > 20


def test_lists_are_paginated_and_mask_names(demo, client):
    login(client, "city")
    page = client.get(f"/staff/dashboard/list/households?{YEAR}&group=material_service").get_data(as_text=True)
    total = int(COUNT.search(page).group(1))
    assert total > 25
    assert page.count("<tr>") == 26  # header + one page of 25
    assert "**" in page
    second = client.get(f"/staff/dashboard/list/households?{YEAR}&group=material_service&page=2")
    assert second.status_code == 200


def test_list_page_numbers_out_of_range_are_the_first_page(demo, client):
    login(client, "city")
    first = client.get(f"/staff/dashboard/list/households?{YEAR}&group=material_service").get_data(as_text=True)
    for value in ("99999999999999999999", "-5", "x"):
        response = client.get(f"/staff/dashboard/list/households?{YEAR}&group=material_service&page={value}")
        assert response.status_code == 200
        assert response.get_data(as_text=True).count("<tr>") == first.count("<tr>") == 26


def test_town_staff_see_only_their_town(demo, client):
    login(client, "town1")
    other = _town_id("jinghe")
    page = client.get(f"/staff/dashboard?{YEAR}&town={other}").get_data(as_text=True)
    assert "龙泉街道" in page
    assert "荆河街道" not in page
    listing = client.get(f"/staff/dashboard/list/items?{YEAR}&item_town={other}").get_data(as_text=True)
    assert COUNT.search(listing).group(1) == "0"


def test_the_town_filter_narrows_the_city_dashboard(demo, client):
    login(client, "city")
    whole = client.get(f"/staff/dashboard?{YEAR}").get_data(as_text=True)
    town = client.get(f"/staff/dashboard?{YEAR}&town={_town_id('longquan')}").get_data(as_text=True)
    assert "荆河街道" in whole and "荆河街道" not in town.split('id="table-items_by_town"')[1].split("</table>")[0]


def test_bad_filters_get_a_message_and_status_400(demo, client):
    login(client, "city")
    response = client.get("/staff/dashboard?from=2026-02-30")
    assert response.status_code == 400
    assert "YYYY-MM-DD" in response.get_data(as_text=True)
    assert client.get(f"/staff/dashboard/list/nothing?{YEAR}").status_code == 404
    assert client.get(f"/staff/dashboard/list/orders?{YEAR}&provider=x&measure=accepted").status_code == 400


def test_the_page_has_charts_but_no_inline_script_and_a_nav_entry(demo, client):
    login(client, "city")
    page = client.get("/staff/dashboard").get_data(as_text=True)
    scripts = re.findall(r"<script([^>]*)>", page)
    assert scripts and all("src=" in s for s in scripts)
    assert "chart.umd.min.js" in page and "dashboard.js" in page and "<canvas" in page
    assert 'href="/staff/dashboard"' in client.get("/staff/").get_data(as_text=True)


def test_every_table_downloads_as_xlsx_and_csv(demo, client):
    login(client, "city")
    for key in ("households", "items_by_category", "items_by_town", "times", "providers", "satisfaction",
                "overdue", "flagged", "volunteer_hours", "quota", "contracts"):
        xlsx = client.get(f"/staff/dashboard/export/{key}.xlsx?{YEAR}")
        assert xlsx.status_code == 200 and xlsx.mimetype.endswith("spreadsheetml.sheet")
        sheet = openpyxl.load_workbook(io.BytesIO(xlsx.data)).active
        csv = client.get(f"/staff/dashboard/export/{key}.csv?{YEAR}")
        assert csv.status_code == 200 and csv.mimetype == "text/csv"
        assert len(csv.data.decode("utf-8-sig").strip().splitlines()) == sheet.max_row, key
    assert client.get(f"/staff/dashboard/export/households.pdf?{YEAR}").status_code == 404
    assert client.get(f"/staff/dashboard/export/nothing.csv?{YEAR}").status_code == 404


def test_the_monthly_report_opens_with_the_expected_sheets(demo, client, app):
    with app.test_request_context():
        expected = [_(name) for name in ("Summary", "Items by category", "Orders by provider", "Visits",
                                         "Household satisfaction", "Material assistance")]
    login(client, "city")
    assert client.get("/staff/reports/monthly").status_code == 200  # the form
    response = client.get(f"/staff/reports/monthly?town={_town_id('longquan')}&month=2026-10")
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == expected
    summary = {row[0]: row[1] for row in book.worksheets[0].iter_rows(min_row=2, values_only=True)}
    assert "龙泉街道" in summary.values() and "2026-10" in summary.values()
    material = list(book.worksheets[5].iter_rows(min_row=2, values_only=True))
    assert material and material[-1][2] > 0  # payments in October


def test_town_staff_get_only_their_own_monthly_report(demo, client):
    login(client, "town1")
    assert client.get("/staff/reports/monthly?month=2026-10").status_code == 200
    assert client.get(f"/staff/reports/monthly?month=2026-10&town={_town_id('jinghe')}").status_code == 403
    assert client.get("/staff/reports/monthly?month=2026-13").status_code == 400


def test_other_roles_cannot_open_the_dashboard(demo, client):
    login(client, "agency1")
    assert client.get("/staff/dashboard").status_code == 403
    assert client.get("/staff/reports/monthly?month=2026-10").status_code == 403


def test_the_dashboard_page_reuses_a_built_dashboard_while_fresh(demo, app, client, monkeypatch):
    from socialforce.platform.services import dashboard

    builds = []
    real_build = dashboard.build
    monkeypatch.setattr(dashboard.cache, "build", lambda *args: builds.append(args[1]) or real_build(*args))
    monkeypatch.setitem(app.config, "DASHBOARD_CACHE_SECONDS", 60)
    dashboard.clear_cache()
    try:
        login(client, "city")
        first = client.get(f"/staff/dashboard?{YEAR}")
        second = client.get(f"/staff/dashboard?{YEAR}")
        assert first.status_code == second.status_code == 200
        assert len(builds) == 1 and b"table-households" in second.get_data()
        assert client.get("/staff/dashboard?from=2026-10-01&to=2026-10-31").status_code == 200
        assert len(builds) == 2  # other filters are built anew
    finally:
        dashboard.clear_cache()
