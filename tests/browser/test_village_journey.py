"""The village assistant (village1) on a phone: the village's households, a need recorded on a round, the list of
recorded needs and the follow-up queue, each page without sideways scroll at 375 px; no resident ID on any page.
Town staff (town1) are told in their inbox that a need awaits approval and approve it from there. Pages are opened
by URL or by links inside pages, never through the top menu."""
from __future__ import annotations

import re

from playwright.sync_api import expect


def test_village_assistant_records_a_need_on_a_phone(portal, live_server):
    page = portal.page("village1")
    expect(page).to_have_url(re.compile(r"/village/$"))
    households = page.locator("main ul.list-group > li")
    expect(households.first).to_be_visible()
    portal.assert_fits_phone(page, "village-households")

    households.first.locator("a").first.click()
    household_id = int(re.search(r"/village/households/(\d+)$", page.url).group(1))
    portal.assert_fits_phone(page, "village-household")
    form = page.locator(f"form[action$='/village/households/{household_id}/needs']")
    form.locator("#category_id").select_option(index=1)
    form.locator("#description").fill("走访发现：老人行动不便，需要每周助浴。")
    form.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/village/needs$"))
    expect(page.locator("main .alert-success")).to_be_visible()
    expect(page.locator("main")).to_contain_text("走访发现：老人行动不便")
    portal.assert_fits_phone(page, "village-needs")
    (draft_id, status), = live_server.query("SELECT id, status FROM item_drafts WHERE household_id = ?",
                                             household_id)
    assert status == "pending"

    # town staff are told (once until read) and approve the need from the page the notice opens
    staff = portal.page("town1")
    portal.go(staff, "/inbox/")
    staff.locator("main li.notification-unread").filter(has_text="龙泉街道 有村居协理员记录的需求等待您审批").first \
        .get_by_role("button", name="查看").click()
    expect(staff).to_have_url(re.compile(r"/staff/village-needs$"))
    staff.locator(f"form[action$='/village-needs/{draft_id}/approve'] button[type=submit]").click()
    expect(staff.locator("main .alert-success")).to_be_visible()
    (status,), = live_server.query("SELECT status FROM item_drafts WHERE id = ?", draft_id)
    assert status == "approved"

    portal.go(page, "/village/follow-ups")
    expect(page).to_have_url(re.compile(r"/village/follow-ups$"))
    portal.assert_fits_phone(page, "village-follow-ups")
    assert portal.resident_id_leaks() == []
