"""The page where a user creates (shown once) and revokes personal access tokens for the /api/v1 JSON API."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from socialforce.platform.inputs import parse_int
from socialforce.platform.models import utcnow
from socialforce.platform.services import ServiceError, api_tokens
from socialforce.platform.transactions import run_in_transaction


def _page(new_secret: str | None = None, error: ServiceError | None = None, status: int = 200):
    return render_template("public/tokens.html", tokens=api_tokens.tokens_of(current_user),
                           scopes=api_tokens.allowed_scopes(current_user), new_secret=new_secret,
                           error=error, now=utcnow()), status


@login_required
def tokens():
    """My tokens; the form creates one and shows its secret once."""
    if request.method == "GET":
        return _page()
    days = parse_int(request.form.get("days"))
    try:
        _token, secret = run_in_transaction(lambda: api_tokens.create(
            current_user, request.form.get("name", ""), request.form.getlist("scopes"), days or 0))
    except ServiceError as e:
        return _page(error=e, status=400)
    return _page(new_secret=secret)


@login_required
def token_revoke(token_id: int):
    """Revoke one of my tokens: it stops working at once."""
    try:
        run_in_transaction(lambda: api_tokens.revoke(current_user, token_id))
    except ServiceError as e:
        flash(e.message, "danger")
    else:
        flash(_("The token is revoked."), "info")
    return redirect(url_for("public.tokens"), 303)
