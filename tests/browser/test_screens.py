"""Screens and print (issue 17): at 1,280 and 375 px no page of the journeys scrolls sideways and the menu items
never wrap inside a word; the printed page hides the navigation and shows the bureau's header. Screenshots of the
main pages at both widths go to $SCREENSHOTS_DIR (`make screenshots` sets docs/screenshots/, linked from the README;
otherwise .cache/screenshots/, so a test run leaves the tree clean)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

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
