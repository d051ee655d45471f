"""Rate limits of /api/v1 per token, with Flask-Limiter (a maintained library: fixed or moving windows, counters
in Redis shared by every worker when RATELIMIT_STORAGE_URI is redis://..., in process memory otherwise).

The check runs inside `auth.authenticate`, after the token is known (auto_check is off, so the portals are not
limited here): a personal token counts against API_RATE_LIMIT by token, a partner client by client (a fresh
client-credentials token does not reset it), and a request without a valid token against
API_RATE_LIMIT_ANONYMOUS by address, so guessing tokens is slowed too. A refusal is a 429 problem with Retry-After."""
from __future__ import annotations

import math
import time

from flask import Flask, abort, current_app, g, request
from flask_babel import gettext as _
from flask_limiter import Limiter
from flask_limiter.errors import RateLimitExceeded

from socialforce.portals.api.problems import problem

EXTENSION = "socialforce_api_limiter"


def _key() -> str:
    token, client_token = g.get("api_token"), g.get("api_client_token")
    if token is not None:
        return f"token:{token.id}"
    if client_token is not None:
        return f"client:{client_token.client_id}"
    return f"address:{request.remote_addr}"


def _limit() -> str:
    known = g.get("api_token") is not None or g.get("api_client_token") is not None
    return current_app.config["API_RATE_LIMIT" if known else "API_RATE_LIMIT_ANONYMOUS"]


def init_app(app: Flask) -> None:
    """One limiter per app (Flask-Limiter keeps its storage on the instance), checked only by the API."""
    limiter = Limiter(key_func=_key, default_limits=[_limit], auto_check=False, headers_enabled=False,
                      strategy="fixed-window")
    limiter.init_app(app)
    app.extensions[EXTENSION] = limiter


def limiter_of(app: Flask) -> Limiter:
    """The app's API limiter."""
    return app.extensions[EXTENSION]


def check() -> None:
    """Count this request against its token's (or address's) limit; a 429 problem with Retry-After when over."""
    limiter = limiter_of(current_app)
    try:
        limiter.check()
    except RateLimitExceeded:
        current = limiter.current_limit
        wait = math.ceil(current.reset_at - time.time()) if current is not None else 60
        response = problem(429, _("Too many requests with this token; wait before trying again."))
        response.headers["Retry-After"] = str(max(wait, 1))
        abort(response)
