"""Screens and print (issue 17): at 1,280 and 375 px no page of the journeys scrolls sideways and the menu items
never wrap inside a word; from 1,024 px up the top menu of every role fits on one row in both languages, its less used
items folded into a keyboard-operable "More"; the printed page hides the navigation and shows the bureau's header. Screenshots of the
main pages at both widths go to $SCREENSHOTS_DIR (`make screenshots` sets docs/screenshots/, linked from the README;
otherwise .cache/screenshots/, so a test run leaves the tree clean)."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

ROOT = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("SCREENSHOTS_DIR") or ROOT / ".cache" / "screenshots")
PAGES = {  # user -> the main pages of their journeys
    "city": ["/staff/", "/staff/households", "/staff/matching", "/staff/orders", "/staff/dashboard",
             "/staff/calendar", "/staff/hours", "/staff/audit"],
    "agency1": ["/agency/", "/agency/orders", "/agency/calendar"],
    "volunteer1": ["/volunteer/", "/volunteer/tasks", "/volunteer/hours"],
}
WIDTHS = (1280, 375)
NO_SIDEWAYS = "() => document.scrollingElement.scrollWidth <= window.innerWidth"
ROLES = ("city", "town1", "agency1", "worker1", "unit1", "cadre1", "volunteer1", "village1")
MENU_WIDTHS = (1024, 1280)
MENU_ROW = """() => { const nav = document.querySelector('nav.navbar'), bar = nav.querySelector('.container-fluid');
  const boxes = [...bar.children].filter(e => e.offsetParent !== null)
    .concat([...nav.querySelectorAll('#mainnav > .navbar-nav > .nav-item, #mainnav > div > *')]);
  const rects = boxes.map(e => e.getBoundingClientRect());
  const centres = rects.map(r => r.top + r.height / 2);
  return {spread: Math.max(...centres) - Math.min(...centres), centres: centres.map(Math.round),
          right: Math.max(...rects.map(r => r.right)), width: window.innerWidth,
          items: nav.querySelectorAll('#mainnav > .navbar-nav > .nav-item').length}; }"""
WORST_BADGE = """() => { if (!document.getElementById('unread-badge')) { const b = document.createElement('span');
  b.id = 'unread-badge'; b.className = 'badge rounded-pill text-bg-danger'; b.textContent = '999';
  const link = document.getElementById('inbox-link'); link.append(' ', b); } }"""  # the widest bar: unread messages
WRAPPED_MENU_ITEMS = """() => [...document.querySelectorAll('.navbar .nav-link')]
  .filter(a => a.offsetParent !== null && a.getClientRects().length > 0)
  .filter(a => { const r = document.createRange(); r.selectNodeContents(a);
                 const lines = new Set([...r.getClientRects()].map(c => Math.round(c.top))); return lines.size > 1; })
  .map(a => a.textContent.trim())"""


@pytest.mark.slow
@pytest.mark.parametrize("width", WIDTHS)
def test_no_page_scrolls_sideways_and_menu_items_do_not_wrap(portal, width):
    SHOTS.mkdir(parents=True, exist_ok=True)
    for username, paths in PAGES.items():
        page = portal.page(username)
        page.set_viewport_size({"width": width, "height": 900})
        for path in paths:
            portal.go(page, path)
            assert page.evaluate(NO_SIDEWAYS), f"{path} scrolls sideways at {width} px"
            assert page.evaluate(WRAPPED_MENU_ITEMS) == [], f"menu items wrap on {path} at {width} px"
            toggler = page.locator(".navbar-toggler")
            assert toggler.is_visible() == (width < 1024), f"menu button at {width} px on {path}"
            name = path.strip("/").replace("/", "-") or "home"
            page.screenshot(path=str(SHOTS / f"{username}-{name}-{width}.png"), full_page=False)


@pytest.mark.slow
def test_print_hides_the_navigation_and_shows_the_bureau_header(portal):
    page = portal.page("city")
    for path in ("/staff/orders", "/staff/dashboard"):
        portal.go(page, path)
        page.emulate_media(media="print")
        assert not page.locator("nav.navbar").is_visible(), path
        header = page.locator(".print-header")
        assert header.is_visible() and "滕州市民政局" in header.inner_text(), path
        page.emulate_media(media="screen")
        assert not header.is_visible()
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF")


@pytest.mark.slow
def test_top_menu_fits_one_row_from_1024_px_for_every_role_in_both_languages(portal):
    for username in ROLES:
        page = portal.page(username)
        for language in ("zh", "en"):
            if language == "en":
                portal.english(page)
            for width in MENU_WIDTHS:
                page.set_viewport_size({"width": width, "height": 800})
                page.wait_for_timeout(50)
                where = f"{username}, {language}, {width} px"
                assert not page.locator(".navbar-toggler").is_visible(), f"menu collapsed: {where}"
                page.evaluate(WORST_BADGE)
                row = page.evaluate(MENU_ROW)
                assert row["items"] >= 3, where
                assert row["spread"] <= 8, f"the top bar takes more than one row: {where} ({row})"
                assert row["right"] <= row["width"], f"the top bar runs off the screen: {where} ({row})"
                assert page.evaluate(WRAPPED_MENU_ITEMS) == [], f"a menu item breaks: {where}"
                assert page.evaluate(NO_SIDEWAYS), f"scrolls sideways: {where}"
        portal.shot(page, f"menu-{username}-en")


@pytest.mark.slow
def test_more_menu_opens_and_is_followed_with_the_keyboard(portal):
    page = portal.page("city")
    page.set_viewport_size({"width": 1024, "height": 800})
    folded = page.locator("#nav-more a[href$='/staff/calendar']")  # the first item under More
    assert not folded.is_visible()  # folded
    page.locator("#nav-more-toggle").focus()
    page.keyboard.press("Enter")
    expect(folded).to_be_visible()
    expect(page.locator("#nav-more-toggle")).to_have_attribute("aria-expanded", "true")
    page.keyboard.press("ArrowDown")
    assert page.evaluate("() => document.activeElement.getAttribute('href')").endswith("/staff/calendar")
    page.keyboard.press("Escape")
    expect(folded).to_be_hidden()
    page.locator("#nav-more-toggle").focus()
    page.keyboard.press("Enter")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    page.wait_for_url("**/staff/calendar")
    expect(page.locator("#nav-more-toggle")).to_have_class(re.compile(r"\bactive\b"))  # the current page is under More
    portal.menu(page, "/staff/audit")  # the helper the journeys use opens "More" itself
    page.set_viewport_size({"width": 800, "height": 800})
    portal.menu(page, "/staff/orders")  # ... and the menu button below 1,024 px
