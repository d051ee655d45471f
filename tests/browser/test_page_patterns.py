"""Patterns every page has (issue 17): an irreversible action asks first and going back changes nothing; the week
grid's presets; a counter under every field with a limit; a form shows all its errors at once and keeps what was
typed."""
from __future__ import annotations

import re

from playwright.sync_api import expect


def first_household(page) -> str:
    page.get_by_role("link", name=re.compile(r"^TZ-longquan-")).first.click()
    return page.url


def test_going_back_from_a_confirmation_dispatches_nothing(portal, live_server):
    (item_id, open_orders), = live_server.query(
        "SELECT i.id, (SELECT count(*) FROM orders o WHERE o.item_id = i.id) FROM service_items i "
        "JOIN households h ON h.id = i.household_id JOIN towns t ON t.id = h.town_id "
        "WHERE i.status = 'open' AND t.name_zh = '龙泉街道' ORDER BY i.id LIMIT 1")
    page = portal.page("town1")
    portal.go(page, f"/staff/items/{item_id}")
    buttons = page.locator(".list-group-item").get_by_role("button", name="派单")
    if buttons.count() == 0:
        return  # no candidate for this item in the demo data: nothing to confirm
    buttons.first.click()
    expect(page.locator("#confirm-question")).to_contain_text(f"#{item_id}")
    portal.shot(page, "confirm-dispatch")
    page.get_by_role("link", name="返回，不做更改").click()
    expect(page.locator("h1")).to_contain_text(f"服务事项 #{item_id}")
    assert live_server.query("SELECT count(*) FROM orders WHERE item_id = ?", item_id) == [(open_orders,)]


def test_item_form_presets_counter_and_all_errors_at_once(portal):
    page = portal.page("town1")
    portal.go(page, "/staff/households")
    first_household(page)
    page.get_by_role("link", name="添加服务事项").click()
    # presets tick the grid (weekday mornings: bits 0, 3, 6, 9, 12)
    page.get_by_role("button", name="工作日上午").click()
    checked = page.locator("input[name=windows]:checked")
    expect(checked).to_have_count(5)
    assert sorted(int(v) for v in checked.evaluate_all("els => els.map(e => e.value)")) == [0, 3, 6, 9, 12]
    page.get_by_role("button", name="周末").click()
    expect(page.locator("input[name=windows]:checked")).to_have_count(6)
    # a counter under the description shows the limit
    counter = page.locator("#description ~ .char-counter")
    expect(counter).to_have_text("已输入 0 / 500 字")
    page.fill("#description", "需要")
    expect(counter).to_have_text("已输入 2 / 500 字")
    # every error at once, with what was typed kept
    page.locator("input[name=windows]:checked").evaluate_all("els => els.forEach(e => e.checked = false)")
    page.select_option("#priority", "high")
    portal.shot(page, "item-form-presets")
    page.get_by_role("button", name="登记事项").click()
    expect(page.locator("#description.is-invalid")).to_have_count(1)
    expect(page.locator("main")).to_contain_text("请至少选择一个")
    expect(page.locator("#description")).to_have_value("需要")
    expect(page.locator("#priority")).to_have_value("high")
    portal.shot(page, "item-form-errors")
