"""A small import through the pages with the real background worker: upload -> the check's progress -> preview ->
confirm -> the import's progress bar -> done; the jobs stay listed under "My jobs"."""
from __future__ import annotations

import re

from playwright.sync_api import expect

HEADER = "户编号,镇街,村居,户主姓名,家庭住址,联系电话"


def test_a_small_import_shows_its_progress_and_ends_done(portal, live_server, tmp_path):
    (town, village), = live_server.query(
        "SELECT t.name_zh, v.name FROM villages v JOIN towns t ON t.id = v.town_id ORDER BY v.id LIMIT 1")
    path = tmp_path / "households.csv"
    rows = [f"BRW{n:04d},{town},{village},户主{n},{village}{n}号," for n in range(30)]
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8-sig")
    city = portal.page("city")
    portal.go(city, "/staff/imports")
    city.set_input_files("input[type=file]", str(path))
    city.locator("#upload-form button[type=submit]").click()
    expect(city).to_have_url(re.compile(r"/staff/imports/[0-9a-f]{32}$"))
    confirm = city.locator("#confirm-button")
    expect(confirm).to_be_visible(timeout=60_000)  # the check ran in the worker; the page reloaded with the result
    portal.shot(city, "preview")
    confirm.click()
    expect(city.locator(".alert-success").filter(has_text="30")).to_be_visible(timeout=60_000)
    portal.shot(city, "imported")
    assert live_server.query("SELECT count(*) FROM households WHERE code LIKE 'BRW%'") == [(30,)]
    portal.go(city, "/staff/jobs")
    expect(city.locator("#jobs tbody tr[data-state=done]")).to_have_count(2)
