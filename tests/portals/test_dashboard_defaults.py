"""Dashboard defaults: the last complete month, the period named on the page, a note on every headline figure,
and a reversed date range refused next to its field with the typed dates kept."""
from __future__ import annotations

import re
from datetime import date

from socialforce.platform.extensions import db
from socialforce.platform.localtime import today
from socialforce.platform.models import Role
from socialforce.platform.services.dashboard import default_period
from tests import factories
from tests.conftest import login


def test_the_default_period_is_the_last_complete_month():
    assert default_period(date(2026, 3, 15)) == (date(2026, 2, 1), date(2026, 2, 28))
    assert default_period(date(2026, 1, 1)) == (date(2025, 12, 1), date(2025, 12, 31))


def test_the_page_opens_on_the_last_complete_month_names_it_and_explains_each_figure(client):
    factories.user("city-staff", Role.city_staff)
    db.session.commit()
    login(client, "city-staff")
    page = client.get("/staff/dashboard").get_data(as_text=True)
    start, end = default_period(today())
    assert f'id="from" name="from" value="{start.isoformat()}"' in page
    assert f'id="to" name="to" value="{end.isoformat()}"' in page
    shown = re.search(r'id="period-shown">(.*?)</p>', page, re.S).group(1)
    assert start.isoformat() in shown and end.isoformat() in shown
    assert len(re.findall(r'class="small text-body-secondary stat-note', page)) == 5


def test_a_reversed_range_is_refused_next_to_the_field_keeping_the_dates(client):
    factories.user("city-staff", Role.city_staff)
    db.session.commit()
    login(client, "city-staff")
    response = client.get("/staff/dashboard?from=2026-05-01&to=2026-04-01")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'value="2026-05-01"' in page and 'value="2026-04-01"' in page
    assert re.search(r'id="to-error">[^<]*(结束日期|end date)', page)
