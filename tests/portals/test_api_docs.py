"""/api/v1/docs: the browsable reference (Swagger UI 5, which renders OpenAPI 3.1) is served by this site alone,
needs no token, runs under the app's CSP (no inline script) and points at both OpenAPI documents."""
from __future__ import annotations

import re

from tests.security.filling import client_for

SRC_RE = re.compile(r'(?:src|href)="([^"]+)"')


def _fetch(client, url: str) -> tuple[int, str, bytes]:
    """Status, mimetype and body of a GET, the file behind it closed (a sent file stays open until then)."""
    response = client.get(url)
    try:
        return response.status_code, response.mimetype, response.get_data()
    finally:
        response.close()


def test_the_page_needs_no_token_and_references_both_documents(client):
    page = client.get("/api/v1/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "/api/v1/openapi.json" in html and "/hsds/openapi.json" in html
    assert "Socialforce API 参考文档" in html  # Chinese by default
    assert "<script>" not in html and "http://" not in html and "https://" not in html  # no inline script, no CDN
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self' 'nonce-" in csp and "unsafe-eval" not in csp


def test_every_asset_the_page_uses_is_served_from_here(client):
    html = client.get("/api/v1/docs").get_data(as_text=True)
    urls = [u for u in SRC_RE.findall(html) if not u.endswith(".json")]
    assert {"/api/v1/docs/assets/swagger-ui-bundle.js", "/api/v1/docs/assets/swagger-ui.css",
            "/static/api-docs.js"} <= set(urls)
    for url in urls:
        status, mimetype, body = _fetch(client, url)
        assert status == 200 and len(body) > 100, url
        if url.endswith(".js"):
            assert "javascript" in mimetype, url
    init = _fetch(client, "/static/api-docs.js")[2].decode()
    assert "SwaggerUIBundle" in init and "validatorUrl: null" in init


def test_the_bundled_swagger_ui_renders_openapi_3_1_and_carries_its_licence(client):
    assert _fetch(client, "/api/v1/docs/assets/VERSION")[2].decode().strip().startswith("v5.")
    assert b"Apache License" in _fetch(client, "/api/v1/docs/assets/LICENSE")[2]
    for spec_url in ("/api/v1/openapi.json", "/hsds/openapi.json"):
        assert client.get(spec_url).get_json()["openapi"].startswith("3.1")


def test_only_the_bundles_files_are_served(client):
    for name in ("oauth2-redirect.html", "..%2F__init__.py", "nope.js"):
        response = client.get(f"/api/v1/docs/assets/{name}")
        assert response.status_code == 404
        assert response.headers["Content-Type"] == "application/problem+json"


def test_the_tokens_page_links_to_the_reference(demo, app):
    html = client_for(app, "volunteer1").get("/account/tokens").get_data(as_text=True)
    assert 'href="/api/v1/docs"' in html
