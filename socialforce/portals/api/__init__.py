"""The JSON API at /api/v1 (flask-smorest: OpenAPI 3.1 generated from the marshmallow schemas).

Authentication is only `Authorization: Bearer <personal access token>`: no cookies, so no CSRF. Errors are RFC 9457
problem details. Every route of the blueprint is listed in ROUTES below; the views live in views.py."""
from __future__ import annotations

import http

from flask import Flask
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

from socialforce.platform.extensions import csrf
from socialforce.portals.api import auth, partner, problems, provider, ratelimit, schemas, staff, volunteer
from socialforce.portals.api import views as v
from socialforce.portals.api.docs import bp as reference_bp
from socialforce.portals.api.views import bp
from socialforce.portals.routing import GET, POST, add_routes

PREFIX = "/api/v1"

ROUTES = [  # (rule, endpoint, view, methods)
    ("/me", "me", v.me, GET),
    ("/volunteer/tasks", "volunteer_tasks", v.volunteer_tasks_list, GET),
    ("/volunteer/tasks/<int:task_id>/signup", "volunteer_task_signup", v.volunteer_task_signup, POST),
    ("/volunteer/tasks/<int:task_id>/withdraw", "volunteer_task_withdraw", v.volunteer_task_withdraw, POST),
    ("/provider/orders", "provider_orders", v.provider_orders_list, GET),
    ("/provider/orders/<int:order_id>/accept", "provider_order_accept", v.provider_order_accept, POST),
    ("/provider/orders/<int:order_id>/decline", "provider_order_decline", v.provider_order_decline, POST),
    ("/staff/households", "staff_households", v.staff_households, GET),
    *volunteer.ROUTES, *provider.ROUTES, *staff.ROUTES,  # the resources' further operations (their modules)
    ("/oauth/token", "oauth_token", partner.oauth_token, POST),
    ("/changes", "changes", partner.changes_since, GET),
]

add_routes(bp, ROUTES)
bp.before_request(auth.authenticate)
bp.after_request(auth.audit_write)
csrf.exempt(bp)

BEARER = {"type": "http", "scheme": "bearer",
          "description": "A personal access token from /account/tokens, or a partner's token from /api/v1/oauth/token."}


class SocialforceApi(Api):
    """flask-smorest's Api with problem-details errors, leaving the portals' HTML error pages alone."""

    ERROR_SCHEMA = schemas.Problem

    def _register_error_handlers(self):
        """None app-wide: platform/errors.py answers /api/ paths with problems (see `handle`)."""

    def _register_responses(self):
        """Document the error answers (every status, and the default) as application/problem+json."""
        for status in http.HTTPStatus:
            response: dict = {"description": status.phrase}
            if status >= 400:
                response["content"] = {problems.PROBLEM_TYPE: {"schema": self.ERROR_SCHEMA}}
            self.spec.components.response(status.name, response, lazy=True)
        self.spec.components.response("DEFAULT_ERROR", {
            "description": "Default error response",
            "content": {problems.PROBLEM_TYPE: {"schema": self.ERROR_SCHEMA}}}, lazy=True)


def init_app(app: Flask) -> None:
    """Mount the API, its OpenAPI document (/api/v1/openapi.json) and its reference page (/api/v1/docs)."""
    app.config.setdefault("API_TITLE", "Socialforce API")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.1.0")
    app.config.setdefault("OPENAPI_URL_PREFIX", PREFIX)
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    api = SocialforceApi(app, spec_kwargs={"servers": [{"url": "/"}]})
    api.spec.components.security_scheme("bearer", BEARER)
    api.spec.options["security"] = [{"bearer": []}]
    api.register_blueprint(bp, url_prefix=PREFIX)
    app.register_blueprint(reference_bp, url_prefix=PREFIX)  # the reference page /api/v1/docs (no token needed)
    ratelimit.init_app(app)


def handle(e: HTTPException):
    """The problem-details answer for an HTTP error on an /api/ path."""
    return problems.from_http_exception(e)


__all__ = ["bp", "handle", "init_app"]
