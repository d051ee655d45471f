"""Journeys 1, 2 and 5 of issue 6, in order and in Chinese: town staff register, match and dispatch a service item;
the agency accepts, assigns worker1 and plans a visit; worker1 checks in and out and records the outcome with its own
assessment; staff ask the household (回访), record its satisfaction and find it on the dashboard.

The three tests share one order (module `chain`) and run in file order; a later test is skipped when an earlier one
did not get as far as it needs. The category is legal aid (法律援助): in the demo data at scale 0.01 only agency1
(滕州市同心社会工作服务中心, which holds the lawyer qualification) offers it in 龙泉街道 with capacity to spare.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

SHANGHAI = ZoneInfo("Asia/Shanghai")
CATEGORY = "法律援助"
SATISFACTION = "4"
# weekday mornings and afternoons (bit = day * 3 + period), the agencies' office hours
WEEKDAY_DAYTIME = [d * 3 + p for d in range(5) for p in (0, 1)]


@pytest.fixture(scope="module")
def chain(live_server) -> dict:
    """What the journeys hand on: demo facts read once, then the item and order they create."""
    (agency_name,), = live_server.query(
        "SELECT p.name FROM users u JOIN providers p ON p.id = u.provider_id WHERE u.username = 'agency1'")
    (worker_id, worker_name), = live_server.query(
        "SELECT m.id, m.name FROM users u JOIN provider_members m ON m.id = u.member_id WHERE u.username = 'worker1'")
    return {"agency": agency_name, "worker_id": worker_id, "worker_name": worker_name,
            "token": datetime.now().strftime("%H%M%S%f")}


def need(chain: dict, key: str) -> object:
    if key not in chain:
        pytest.skip(f"an earlier journey did not produce {key!r}")
    return chain[key]


def flash(page):
    return page.locator("main .alert").first


def test_journey1_staff_register_match_dispatch(portal, chain):
    """Town staff register a service item for a household, run matching, read the reasons, dispatch to agency1."""
    page = portal.page("town1")
    portal.go(page, "/staff/households")
    expect(page.locator("h1")).to_have_text("困难家庭")
    page.get_by_role("link", name=re.compile(r"^TZ-longquan-")).first.click()
    expect(page.locator("h1")).to_contain_text("困难家庭 TZ-longquan-")

    page.get_by_role("link", name="添加服务事项").click()
    expect(page.locator("h1")).to_contain_text("新增服务事项")
    page.select_option("#category_id", label=CATEGORY)
    description = f"浏览器测试{chain['token']}：房屋租赁纠纷，需要法律咨询和援助"
    page.fill("#description", description)
    for bit in WEEKDAY_DAYTIME:
        page.check(f"input[name=windows][value='{bit}']")
    portal.shot(page, "item-form")
    page.get_by_role("button", name="登记事项").click()
    expect(flash(page)).to_have_text("服务事项已登记。")
    item_id = int(re.search(r"/staff/items/(\d+)$", page.url).group(1))
    expect(page.locator("main")).to_contain_text("待派单")
    chain["item_id"] = item_id

    # run matching for the category and read the reasons given for agency1
    portal.menu(page, "/staff/matching")
    expect(page.locator("h1")).to_have_text("匹配审核")
    page.select_option("select[name=category]", label=CATEGORY)
    page.get_by_role("button", name="运行匹配").click()
    row = page.locator("tbody tr").filter(has=page.get_by_role("link", name=f"#{item_id}", exact=True))
    expect(row).to_have_count(1)
    expect(row).to_contain_text("龙泉街道")
    best = row.locator("td").nth(1)
    expect(best).to_contain_text(f"1. {chain['agency']}")
    reasons = best.locator("li")
    expect(reasons.first).to_be_visible()
    assert any("距离约" in text and "公里" in text for text in reasons.all_inner_texts()), reasons.all_inner_texts()
    portal.shot(page, "matching")
    portal.assert_fits_phone(page, "matching")

    # open the item, read the candidate's reasons there, dispatch to agency1
    row.get_by_role("link", name=f"#{item_id}").click()
    expect(page.locator("h1")).to_have_text(f"服务事项 #{item_id} · {CATEGORY}")
    candidate = page.locator(".list-group-item").filter(has_text=chain["agency"])
    expect(candidate).to_have_count(1)
    expect(candidate.locator("li").first).to_be_visible()
    portal.assert_fits_phone(page, "item")
    candidate.get_by_role("button", name="派单").click()
    # the confirmation names the item and the agency; nothing is sent before it
    expect(page.locator("#confirm-question")).to_have_text(f"将服务事项 #{item_id} 派给 {chain['agency']}？")
    expect(page.locator("#confirm-consequence")).to_contain_text("1 个工单")
    page.locator("#confirm-button").click()
    expect(flash(page)).to_have_text(re.compile(r"^工单 #\d+ 已派单。$"))
    order_id = int(re.search(r"#(\d+)", flash(page).inner_text()).group(1))
    card = page.locator(".card").filter(has_text=f"#{order_id}")
    expect(card).to_contain_text(f"{chain['agency']} · 已派单")
    expect(page.locator("main")).to_contain_text("已派单")
    portal.shot(page, "dispatched")
    chain["order_id"] = order_id


def test_journey2_agency_accepts_worker_visits_and_records_outcome(portal, chain):
    """agency1 accepts, assigns worker1 and plans a visit; worker1 checks in, checks out and records the outcome."""
    order_id = need(chain, "order_id")
    agency = portal.page("agency1")
    portal.menu(agency, "/agency/orders")
    agency.get_by_role("link", name=f"#{order_id}", exact=True).click()
    expect(agency.locator("h1")).to_have_text(f"工单 #{order_id} · {CATEGORY}")
    expect(agency.locator("main")).to_contain_text("匹配理由")
    expect(agency.locator("main")).to_contain_text(f"浏览器测试{chain['token']}")
    portal.assert_fits_phone(agency, "agency-order")
    agency.select_option("#assignee_id", value=str(chain["worker_id"]))
    agency.get_by_role("button", name="接单").click()
    expect(flash(agency)).to_have_text("已接单。")
    expect(agency.locator("main")).to_contain_text(f"指派给: {chain['worker_name']}")
    portal.shot(agency, "accepted")

    # plan a visit starting in ten minutes (check-in opens an hour before the start)
    agency.locator("#order-visits-link").click()
    expect(agency.locator("h1")).to_have_text(f"工单 #{order_id} · {CATEGORY}")
    starts = (datetime.now(SHANGHAI) + timedelta(minutes=10)).replace(second=0, microsecond=0)
    agency.fill("#custom", starts.strftime("%Y-%m-%dT%H:%M"))
    agency.select_option("#duration", "30")
    agency.get_by_role("button", name="安排走访").click()
    expect(flash(agency)).to_have_text("走访已安排。")
    expect(agency.locator("main")).to_contain_text("已排期")
    expect(agency.locator("tbody tr")).to_have_count(1)
    expect(agency.locator("tbody tr").first).to_contain_text(starts.strftime("%Y-%m-%d %H:%M"))
    portal.shot(agency, "visit-planned")

    # worker1 finds the visit on the calendar of its week, with the phone's location allowed
    worker = portal.page("worker1", geolocation={"latitude": 35.0836, "longitude": 117.1643})
    portal.go(worker, f"/agency/calendar?week={starts.date().isoformat()}")
    expect(worker.locator("h1")).to_contain_text("日程")
    visit_link = worker.get_by_role("link", name=f"{starts:%H:%M}–{starts + timedelta(minutes=30):%H:%M}")
    expect(visit_link).to_have_count(1)
    portal.shot(worker, "calendar")
    portal.assert_fits_phone(worker, "calendar")
    visit_link.click()
    expect(worker.locator("h1")).to_contain_text("已计划")
    portal.assert_fits_phone(worker, "visit")
    worker.get_by_role("button", name="签到").click()
    expect(flash(worker)).to_have_text("已签到。")
    expect(worker.locator("h1")).to_contain_text("已签到")
    expect(worker.locator("dl")).to_contain_text("已记录位置")
    worker.fill("#checkout-notes", "已上门了解租赁纠纷情况，协助准备法律援助申请材料。")
    portal.shot(worker, "checked-in")
    worker.get_by_role("button", name="签退").click()
    expect(flash(worker)).to_have_text("已签退。")
    expect(worker.locator("h1")).to_contain_text("已完成")
    portal.shot(worker, "checked-out")

    # the worker records the outcome on the order's visits page
    portal.menu(worker, "/agency/orders")
    worker.get_by_role("link", name=f"#{order_id}", exact=True).click()
    expect(worker.locator("main")).to_contain_text("服务中")
    worker.locator("#order-visits-link").click()
    worker.get_by_label("已解决", exact=True).check()
    worker.select_option("#goal_attainment", "1")
    expect(worker.locator("input[name=assessment]:checked")).to_have_count(0)  # nothing pre-selected
    worker.locator(f"input[name=assessment][value='{SATISFACTION}']").check()
    worker.fill("#comment", "家庭对法律援助服务满意。")
    portal.assert_fits_phone(worker, "outcome-form")
    worker.get_by_role("button", name="登记服务成效").click()
    expect(flash(worker)).to_have_text("服务成效已登记。")
    expect(worker.locator("main")).to_contain_text("已完成")
    expect(worker.locator("main")).to_contain_text(f"自评 {SATISFACTION}/5")
    portal.shot(worker, "outcome")
    chain["completed"] = True


def test_journey5_staff_see_completed_order_and_satisfaction(portal, chain):
    """Town staff ask the household, record its satisfaction, and find it behind the dashboard's figures."""
    order_id = need(chain, "order_id")
    need(chain, "completed")
    page = portal.page("town1")
    portal.menu(page, "/staff/follow-ups")
    page.locator(f"a[href$='/staff/orders/{order_id}/evaluate#follow-up']").click()
    expect(page.locator("input[name=satisfaction]:checked")).to_have_count(0)  # nothing pre-selected
    page.locator(f"input[name=satisfaction][value='{SATISFACTION}']").check()
    page.get_by_label("工作人员电话回访").check()
    page.get_by_role("button", name="记录家庭满意度").click()
    expect(flash(page)).to_have_text("家庭满意度回访已记录。")
    portal.shot(page, "follow-up")
    portal.menu(page, "/staff/dashboard")
    expect(page.locator("h1")).to_contain_text("数据看板 · 龙泉街道")
    today = datetime.now(SHANGHAI).date()  # the dashboard opens on the last complete month: ask for this one
    page.fill("#from", today.replace(day=1).isoformat())
    page.fill("#to", today.isoformat())
    page.select_option("#category", label=CATEGORY)
    page.get_by_role("button", name="应用").click()
    portal.shot(page, "dashboard")
    portal.assert_fits_phone(page, "dashboard")

    # satisfaction: the row of the household's score counts at least our follow-up and links to it
    score_row = page.locator("#table-satisfaction tbody tr").filter(
        has=page.locator(f"td:first-child[data-value='{SATISFACTION}']"))
    count_cell = score_row.locator("td").nth(1)
    assert int(count_cell.get_attribute("data-value")) >= 1
    count_cell.get_by_role("link").click()
    expect(page.locator("h1")).to_have_text("满意度回访")
    record = page.locator("tbody tr").filter(has=page.get_by_role("cell", name=str(order_id), exact=True))
    expect(record).to_have_count(1)
    expect(record).to_contain_text(SATISFACTION)
    portal.shot(page, "satisfaction-records")
    page.go_back()

    # providers: agency1's completed orders include ours, shown as completed
    provider_row = page.locator("#table-providers tbody tr").filter(has_text=chain["agency"])
    expect(provider_row).to_have_count(1)
    provider_row.locator("td").nth(5).get_by_role("link").click()
    record = page.locator("tbody tr").filter(has=page.get_by_role("cell", name=str(order_id), exact=True))
    expect(record).to_have_count(1)
    expect(record).to_contain_text("已完成")
    portal.shot(page, "completed-orders")

    # and the item itself shows the order completed
    portal.go(page, f"/staff/items/{chain['item_id']}")
    expect(page.locator(".card").filter(has_text=f"#{order_id}")).to_contain_text(f"{chain['agency']} · 已完成")
    expect(page.locator("#item-state")).to_have_text("已服务完成")  # served, not closed by staff
