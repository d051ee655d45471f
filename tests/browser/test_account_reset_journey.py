"""City staff create a town-staff account through the pages; the person gets in with the one-time code shown once,
is made to choose a password before anything else, and logs in with it; deactivating the account stops that."""
from __future__ import annotations

import re

from playwright.sync_api import expect


def test_account_created_with_a_code_then_a_forced_new_password(portal, live_server):
    city = portal.page("city")
    portal.menu(city, "/staff/accounts")
    expect(city).to_have_url(re.compile(r"/staff/accounts$"))
    city.locator("main a[href$='/staff/accounts/new']").click()
    city.select_option("#role", "town_staff")
    city.fill("#username", "jinghe-clerk")
    city.fill("#display_name", "荆河办事员")
    city.select_option("#town_id", index=2)
    city.check("#reset-code")
    city.locator("main button[type=submit]").click()
    secret = city.locator("#reset-secret")
    expect(secret).to_be_visible()
    code = secret.inner_text().strip()
    assert re.fullmatch(r"[A-Z2-9]{8}", code), code
    portal.shot(city, "code-shown-once")

    person = portal.page(None, staff=True)
    portal.go(person, "/login")
    person.locator("main a[href$='/forgot-password']").click()
    person.locator("main a[href$='/reset-code']").click()
    person.fill("#identifier", "jinghe-clerk")
    person.fill("#code", code.lower())
    person.locator("main button[type=submit]").click()
    expect(person).to_have_url(re.compile(r"/account/password$"))
    expect(person.locator("#current")).to_have_count(0)
    person.goto(live_server.url + "/staff/households")
    expect(person).to_have_url(re.compile(r"/account/password$"))  # nothing else before a new password
    person.fill("#new", "jinghe-clerk-pw")
    person.fill("#confirm", "jinghe-clerk-pw")
    person.locator("main button[type=submit]").click()
    expect(person).to_have_url(re.compile(r"/login$"))
    portal.login(person, "jinghe-clerk", "jinghe-clerk-pw")
    expect(person).to_have_url(re.compile(r"/staff/$"))
    portal.shot(person, "logged-in")

    city.goto(live_server.url + "/staff/accounts?role=town_staff&active=1")
    row = city.locator("main tbody tr", has_text="jinghe-clerk")
    row.locator("form[action$='/status'] button").click()
    expect(city.locator("main .alert-success")).to_contain_text("jinghe-clerk")
    person.goto(live_server.url + "/staff/")
    expect(person).to_have_url(re.compile(r"/login"))  # the session ended with the deactivation
