"""The resident-ID scan that guards every non-staff page of the journeys can fail: it finds the full ID that staff
reveal (an audited staff-only page) and ignores masked IDs and longer digit runs."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import RESIDENT_ID


def test_pattern_finds_ids_and_skips_masked_ones():
    assert RESIDENT_ID.search("<td>37048119900315123X</td>")
    assert RESIDENT_ID.search("身份证号 370481199003151234。")
    assert not RESIDENT_ID.search("<code>3704**********123X</code>")
    assert not RESIDENT_ID.search("order 1370481199003151234")  # 19 digits: not an ID
    assert not RESIDENT_ID.search("token a370481199003151234")


def test_staff_reveal_page_holds_a_full_id_the_scan_finds(portal):
    page = portal.page("town1")
    portal.go(page, "/staff/households")
    page.get_by_role("link", name=re.compile(r"^TZ-longquan-")).first.click()
    masked = page.locator("tbody code").first.inner_text()
    assert "*" in masked and not RESIDENT_ID.search(page.content())
    form = page.locator("tbody form").first
    form.locator("input[name=purpose]").fill("核对救助对象身份")
    form.locator("button[type=submit]").click()
    found = RESIDENT_ID.search(page.content())
    assert found, "the reveal page shows no full ID"
    assert found.group(0)[:4] == masked[:4] and found.group(0)[-4:] == masked[-4:]
    expect(page.locator("main")).to_contain_text(found.group(0))
