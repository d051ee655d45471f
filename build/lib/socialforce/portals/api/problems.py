"""Errors of the JSON API in one shape: RFC 9457 problem details (application/problem+json), in the caller's
language; a 422 lists the failing fields by path."""
from __future__ import annotations

from flask import Response, json, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from socialforce.portals.api.field_messages import localise

PROBLEM_TYPE = "application/problem+json"
API_PREFIX = "/api/"


def _titles() -> dict[int, str]:
    return {
        400: _("The request could not be understood."),
        401: _("A valid API token is required."),
        403: _("The token may not do this."),
        404: _("Not found."),
        405: _("This method is not allowed here."),
        409: _("This action conflicts with the current state of the record."),
        413: _("The request body is too large."),
        422: _("Some fields are not valid."),
        429: _("Too many requests; try again later."),
        500: _("Something went wrong on our side. Please try again later."),
    }


def is_api_request() -> bool:
    """Whether the current request is for the JSON API (its errors are problem details)."""
    return request.path.startswith(API_PREFIX)


def problem(status: int, detail: str | None = None, errors: list[dict] | None = None) -> Response:
    """A problem-details response for a status code, with an optional detail and field errors."""
    titles = _titles()
    body: dict = {"type": "about:blank", "title": titles.get(status, titles[500]), "status": status,
                  "instance": request.path}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    response = Response(json.dumps(body), status=status, content_type=PROBLEM_TYPE)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="socialforce"'
    return response


def field_errors(messages: dict) -> list[dict]:
    """Flatten webargs/marshmallow messages ({location: {field: [msg]}}) into [{"path", "message"}]."""
    found: list[dict] = []

    def walk(node, path: list[str]) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, [*path, str(key)])
        elif isinstance(node, list) and node and all(isinstance(m, str) for m in node):
            for message in node:
                found.append({"path": "/".join(path), "message": localise(message)})
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, [*path, str(index)])
        else:
            found.append({"path": "/".join(path), "message": str(node)})

    walk(messages, [])
    return found


def from_http_exception(e: HTTPException) -> Response:
    """The problem for a werkzeug/flask-smorest HTTP error (a 422 carries its field paths)."""
    status = e.code or 500
    messages = (getattr(e, "data", None) or {}).get("messages")
    if status == 422 and messages:
        return problem(422, _("Correct the fields listed in errors."), field_errors(messages))
    response = problem(status)
    for name, value in e.get_headers():
        if name in ("Allow", "Retry-After"):  # a 405 names the methods it allows (RFC 9110)
            response.headers[name] = value
    return response
