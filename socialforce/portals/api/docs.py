"""The browsable API reference at /api/v1/docs: Swagger UI 5 (renders OpenAPI 3.1) for /api/v1/openapi.json and
/hsds/openapi.json, served from this site only (no CDN).

The Swagger UI files come from the flask-swagger-ui package (PyPI, which bundles swagger-ui-dist with its Apache-2.0
licence), so a fresh machine needs only `pip install`; its own page is not used, because it starts Swagger UI from
an inline script that the app's CSP refuses. Ours loads `api-docs.js` from the app's static folder instead, with
the documents' URLs in data attributes. The page needs no token: the documents themselves are public."""
from __future__ import annotations

from pathlib import Path

import flask_swagger_ui
from flask import Blueprint, abort, render_template, send_from_directory, url_for
from flask_babel import gettext as _

from socialforce.portals.routing import GET, add_routes

DIST = Path(flask_swagger_ui.__file__).parent / "dist"
ASSETS = frozenset({"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "index.css",
                    "favicon-32x32.png", "favicon-16x16.png", "LICENSE", "VERSION"})
ASSET_MAX_AGE = 86400  # seconds: the files change only with the package's version

bp = Blueprint("api_reference", __name__, template_folder="templates")


def swagger_ui_version() -> str:
    """The bundled Swagger UI's version (e.g. "v5.34.0")."""
    return (DIST / "VERSION").read_text(encoding="utf-8").strip()


def documents() -> list[dict[str, str]]:
    """The OpenAPI documents the page offers, the API's first."""
    return [{"url": url_for("api-docs.openapi_json"), "name": _("Socialforce API v1")},
            {"url": url_for("hsds.openapi"), "name": _("HSDS service directory")}]


def reference():
    """The reference page: Swagger UI over the API's and the HSDS directory's OpenAPI documents."""
    return render_template("api/docs.html", documents=documents(), version=swagger_ui_version())


def asset(name: str):
    """One of the bundled Swagger UI files (only those the page uses, and the licence)."""
    if name not in ASSETS:
        abort(404)
    mimetype = "text/plain" if name in ("LICENSE", "VERSION") else None
    return send_from_directory(DIST, name, max_age=ASSET_MAX_AGE, mimetype=mimetype)


ROUTES = [
    ("/docs", "docs", reference, GET),
    ("/docs/assets/<name>", "asset", asset, GET),
]
add_routes(bp, ROUTES)
