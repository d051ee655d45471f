"""An automated axe-core scan (npm package axe-core, installed by `make axe` into .cache/axe) over the main pages
the browser journeys open: no critical or serious violation."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.test_screens import PAGES

AXE = Path(__file__).resolve().parents[2] / ".cache" / "axe" / "node_modules" / "axe-core" / "axe.min.js"


@pytest.mark.slow
def test_journey_pages_have_no_critical_or_serious_axe_violations(portal):
    if not AXE.exists():
        pytest.skip("axe-core is not installed (make axe)")
    found, source = [], AXE.read_text(encoding="utf-8") + "\n;undefined"
    for username, paths in PAGES.items():
        page = portal.page(username)
        for path in paths:
            portal.go(page, path)
            page.evaluate(source)  # through the DevTools protocol: the page's CSP (no inline script) stays on
            result = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
            found += [f"{path}: {v['id']} ({v['impact']}) {v['nodes'][0]['target']}" for v in result
                      if v["impact"] in ("critical", "serious")]
    assert not found, "\n".join(found)
