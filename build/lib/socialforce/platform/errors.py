"""Error pages in the user's language; JSON errors for JSON clients."""
from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from socialforce.platform.extensions import db
from socialforce.platform.inputs import NulByte, TextTooLong


def _messages() -> dict[int, str]:
    return {
        400: _("The request could not be understood. Please go back and try again."),
        403: _("You do not have permission to open this page."),
        404: _("The page you asked for does not exist."),
        405: _("This action is not allowed here."),
        409: _("This action conflicts with the current state of the record."),
        413: _("The uploaded file is too large."),
        500: _("Something went wrong on our side. Please try again later."),
    }


def wants_json() -> bool:
    """Whether the client asked for JSON rather than a page."""
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return request.is_json or best == "application/json"


def render_error(code: int, message: str | None = None):
    """The error page (or JSON body) for an HTTP status code, after rolling back the failed request's session."""
    db.session.rollback()  # a failed flush or query leaves the session unusable; the page itself reads the database
    if request.path.startswith("/api/"):  # the JSON API answers every error with RFC 9457 problem details
        from socialforce.portals.api.problems import problem

        return problem(code, message)
    message = message or _messages().get(code, _messages()[500])
    if wants_json():
        return jsonify(error=message, status=code), code
    return render_template("error.html", code=code, message=message), code


def init_app(app: Flask) -> None:
    """Register the handlers."""

    @app.errorhandler(CSRFError)
    def _csrf(_e):
        return render_error(400, _("The form has expired or is missing its security token. Please reload the page and try again."))

    @app.errorhandler(NulByte)
    def _nul(e: NulByte):
        return render_error(400, e.description)

    @app.errorhandler(TextTooLong)
    def _too_long(e: TextTooLong):
        app.logger.info("refused a text longer than %s", e.column)  # the column, never the text
        return render_error(400, e.description)

    @app.errorhandler(HTTPException)
    def _http(e: HTTPException):
        if e.code is not None and e.code < 400:  # routing redirects are not errors
            return e
        if request.path.startswith("/api/"):
            from socialforce.portals.api.problems import from_http_exception

            db.session.rollback()
            return from_http_exception(e)
        return render_error(e.code or 500)

    @app.errorhandler(Exception)
    def _unexpected(e: Exception):
        app.logger.exception("unhandled error")
        return render_error(500)
