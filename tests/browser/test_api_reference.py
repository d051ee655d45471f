"""/api/v1/docs in a real browser: Swagger UI starts under the app's CSP (no violation, nothing fetched from
another site), lists the API's operations and switches to the HSDS directory's document."""
from __future__ import annotations

from urllib.parse import urlparse

from playwright.sync_api import expect


def test_the_reference_renders_the_operations_of_both_documents(portal, live_server):
    page = portal.page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    host = urlparse(live_server.url).netloc
    page.on("request", lambda r: problems.append(f"outside request {r.url}")
            if urlparse(r.url).netloc not in (host, "") and not r.url.startswith("data:") else None)
    portal.go(page, "/api/v1/docs")
    expect(page.locator(".opblock-summary-path").first).to_be_visible()
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/v1/volunteer/tasks" in paths and "/api/v1/provider/orders/{order_id}/accept" in paths
    assert len(paths) >= 30
    expect(page.locator(".info .title")).to_contain_text("Socialforce API")
    expect(page.locator(".info .title")).to_contain_text("3.1")  # the OAS 3.1 badge: read as 3.1, not refused
    portal.shot(page, "api-reference")
    page.locator(".topbar select").select_option(label="HSDS 服务目录")
    expect(page.locator(".opblock-summary-path").first).to_contain_text("/hsds/")
    assert not problems, problems
