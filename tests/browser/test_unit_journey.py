"""Journey 4 of issue 6: pairing unit unit1 opens its paired households and records this month's visit to one.

The paired-households pages are new; their buttons are found by form action and their labels by position, so the
test reads the same before and after their Chinese translations are merged. Head-of-household names are masked on
these pages: the test compares with the full name in the database.
"""
from __future__ import annotations

import re

from playwright.sync_api import expect


def visits_done(text: str) -> int:
    """The N of "N / quota" in a visits-this-month cell."""
    return int(re.search(r"(\d+)\s*/\s*\d+", text).group(1))


def test_journey4_unit_records_monthly_visit(portal, live_server):
    unit = portal.page("unit1")
    portal.menu(unit, "/unit/households")
    expect(unit).to_have_url(re.compile(r"/unit/households$"))
    rows = unit.locator("main tbody tr")
    expect(rows.first).to_be_visible()
    portal.shot(unit, "households")
    portal.assert_fits_phone(unit, "households")

    # the first paired household whose visit is still due this month (else the first one)
    due = rows.filter(has=unit.locator(".badge.text-bg-warning"))
    row = due.first if due.count() else rows.first
    before = visits_done(row.locator("td").nth(3).inner_text())
    link = row.locator("td").first.get_by_role("link")
    masked_head = link.inner_text()
    link.click()
    pairing_id = int(re.search(r"/unit/households/(\d+)$", unit.url).group(1))
    (head_name, village), = live_server.query(
        "SELECT h.head_name, v.name FROM pairings p JOIN households h ON h.id = p.household_id "
        "JOIN villages v ON v.id = h.village_id WHERE p.id = ?", pairing_id)
    assert masked_head != head_name and masked_head[0] == head_name[0], (masked_head, head_name)
    expect(unit.locator("h1")).to_contain_text(masked_head)
    expect(unit.locator("h1")).to_contain_text(village)
    expect(unit.locator("main")).not_to_contain_text(head_name)
    portal.assert_fits_phone(unit, "household")

    # record this month's visit with notes
    form = unit.locator(f"form[action$='/unit/households/{pairing_id}/visit']")
    expect(form.locator("#cadre_id option")).not_to_have_count(0)
    form.locator("#notes").fill("本月走访：了解家庭近况，老人身体状况稳定，已协助预约慢病复查。")
    visits_list = unit.locator("main ul.list-group li")
    listed = visits_list.count()
    form.locator("button[type=submit]").click()
    expect(unit.locator("main .alert-success")).to_contain_text(masked_head)
    expect(unit).to_have_url(re.compile(rf"/unit/households/{pairing_id}$"))
    expect(visits_list).to_have_count(listed + 1)
    expect(visits_list.filter(has_text="已完成")).not_to_have_count(0)
    done_cell = unit.locator("main dl dd").nth(-1)
    assert visits_done(done_cell.inner_text()) == before + 1
    portal.shot(unit, "visit-recorded")

    # a second click is refused (no double visit), and the list counts the visit
    form.locator("button[type=submit]").click()
    expect(unit.locator("main .alert-danger")).to_be_visible()
    expect(visits_list).to_have_count(listed + 1)
    unit.locator("main a[href$='/unit/households']").first.click()
    row = unit.locator("main tbody tr").filter(
        has=unit.locator(f"a[href$='/unit/households/{pairing_id}']"))
    assert visits_done(row.locator("td").nth(3).inner_text()) == before + 1
    portal.shot(unit, "households-after")

    # the recorded visit opens as a completed visit with the notes
    portal.go(unit, f"/unit/households/{pairing_id}")
    visits_list.filter(has_text="已完成").last.get_by_role("link").click()
    expect(unit.locator("h1")).to_contain_text("已完成")
    expect(unit.locator("main")).to_contain_text("老人身体状况稳定")
