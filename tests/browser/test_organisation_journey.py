"""City staff register a social-work agency and its government-purchase contract through the pages: a credit code
with a wrong check character is refused next to its field with what was typed kept, the corrected form registers
the agency (approved), its contract is recorded with no hours used, and an overlapping second contract is
refused naming the first."""
from __future__ import annotations

import re

from playwright.sync_api import expect

CODE = "91350100M000100Y43"  # GB 32100-2015's example; the demo seed's codes are 52370481…


def test_city_registers_an_agency_with_a_contract(portal, live_server):
    city = portal.page("city")
    portal.menu(city, "/staff/organisations/agencies")
    expect(city).to_have_url(re.compile(r"/staff/organisations/agencies$"))
    city.locator("a[href$='/staff/organisations/agencies/new']").click()

    city.fill("#name", "滕州市新星社会工作服务中心")
    city.fill("#credit_code", CODE[:-1] + "4")  # wrong check character
    city.fill("#licence_no", "滕民社证字第0999号")
    city.fill("#contact_name", "李娜")
    city.fill("#contact_phone", "13912345678")
    city.select_option("#town_id", label="龙泉街道")
    city.locator("input[name=town_ids]").nth(0).check()
    city.locator("input[name=town_ids]").nth(1).check()
    city.locator("main form button[type=submit]").click()
    expect(city.locator("#credit_code-error")).to_be_visible()
    expect(city.locator("#credit_code")).to_have_value(CODE[:-1] + "4")
    expect(city.locator("#name")).to_have_value("滕州市新星社会工作服务中心")
    portal.shot(city, "agency-refused")

    city.fill("#credit_code", CODE.lower())
    expect(city.locator("#contact_phone")).to_have_value("13912345678")  # what was typed stays
    city.locator("main form button[type=submit]").click()
    expect(city).to_have_url(re.compile(r"/staff/organisations/agencies/\d+$"))
    expect(city.locator("main .alert-success")).to_contain_text("滕州市新星社会工作服务中心")
    expect(city.locator("main")).to_contain_text(CODE)
    expect(city.locator("main")).to_contain_text("139****5678")
    expect(city.locator("main")).not_to_contain_text("13912345678")
    (status,), = live_server.query("SELECT p.status FROM providers p JOIN agencies a ON a.provider_id = p.id "
                                   "WHERE a.credit_code = ?", CODE)
    assert status == "approved"

    city.locator("a[href$='/contracts/new']").click()
    city.fill("#code", "TZMZ-GM-2027-901")
    city.fill("#title", "2027年困难家庭服务类社会救助政府购买服务项目（新星）")
    city.fill("#starts_on", "2027-01-01")
    city.fill("#ends_on", "2027-12-31")
    city.fill("#budget_yuan", "450000")
    city.fill("#purchased_hours", "3000")
    city.get_by_label("心理疏导").check()
    city.get_by_label("精神慰藉").check()
    city.locator("main form button[type=submit]").click()
    expect(city.locator("main .alert-success")).to_contain_text("TZMZ-GM-2027-901")
    row = city.locator("main tbody tr", has_text="TZMZ-GM-2027-901")
    expect(row).to_contain_text("0.0 / 3000.0")
    expect(row).to_contain_text("450,000.00")
    portal.shot(city, "contract-recorded")
    portal.assert_fits_phone(city, "contracts")

    city.locator("a[href$='/contracts/new']").click()
    city.fill("#code", "TZMZ-GM-2027-902")
    city.fill("#title", "重叠的合同")
    city.fill("#starts_on", "2027-07-01")
    city.fill("#ends_on", "2028-06-30")
    city.fill("#budget_yuan", "1000")
    city.fill("#purchased_hours", "10")
    city.get_by_label("精神慰藉").check()
    city.locator("main form button[type=submit]").click()
    expect(city.locator("#starts_on-error")).to_contain_text("TZMZ-GM-2027-901")
    expect(city.locator("#code")).to_have_value("TZMZ-GM-2027-902")
    portal.shot(city, "contract-overlap-refused")
    assert live_server.query("SELECT count(*) FROM contracts WHERE code LIKE 'TZMZ-GM-2027-9%'") == [(1,)]
