"""Forms show every error at once beside its field and keep what was typed (issue 17): the item form used to flag
the description and only on the next submit the time windows. Over-long text sent without the browser's limit
gets a message beside the field, not an error page. Every field with a limit says so (maxlength, for the counter)."""
from __future__ import annotations

import re

from socialforce.platform.extensions import db
from socialforce.platform.models import Role, ServiceItem
from tests import factories
from tests.conftest import csrf_token, login


def item_form(client, household_id: int, **fields):
    path = f"/staff/households/{household_id}/items/new"
    data = {"csrf_token": csrf_token(client, path), "category_id": str(factories.category("counselling").id),
            "member_id": "", "description": "", "priority": "normal", "frequency": "once", "slots_needed": "1",
            **fields}
    return client.post(path, data=data)


def setup_staff(client) -> int:
    household = factories.household("longquan")
    factories.user("town-lq", Role.town_staff, town_id=factories.town("longquan").id)
    db.session.commit()
    login(client, "town-lq")
    return household.id


def test_the_item_form_shows_every_error_at_once_and_keeps_what_was_typed(client):
    household_id = setup_staff(client)
    page = item_form(client, household_id, description="需", priority="high")  # too short, and no windows
    html = page.get_data(as_text=True)
    assert page.status_code == 400
    assert re.search(r'<textarea class="form-control is-invalid" id="description"[^>]*>\s*需</textarea>', html)
    assert "请至少选择一个期望服务时段。" in html
    assert re.search(r'<option selected value="high">|<option value="high" selected>', html)
    assert db.session.query(ServiceItem).count() == 0


def test_over_long_text_gets_a_message_beside_the_field(client):
    household_id = setup_staff(client)
    page = item_form(client, household_id, description="很" * 501, windows=["0"])
    html = page.get_data(as_text=True)
    assert page.status_code == 400 and 'id="description"' in html
    assert re.search(r'is-invalid" id="description".*?</textarea>\s*<div class="invalid-feedback">[^<]*500', html, re.S)
    assert db.session.query(ServiceItem).count() == 0


def test_limited_fields_carry_their_limit_and_the_grid_its_presets(client):
    household_id = setup_staff(client)
    html = client.get(f"/staff/households/{household_id}/items/new").get_data(as_text=True)
    assert re.search(r'<textarea[^>]*id="description"[^>]*maxlength="500"', html)
    assert "forms.js" in html and 'data-counter-text="已输入 {n} / {max} 字"' in html
    presets = dict(re.findall(r'data-bits="([\d ]+)">([^<]+)</button>', html))
    assert presets["0 3 6 9 12"] == "工作日上午" and presets["15 16 17 18 19 20"] == "周末"
