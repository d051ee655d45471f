"""Idempotency-Key for API writes: the first request with a key claims it (a unique (token, key) row) and its
answer is stored; a retry with the same key gets the stored answer and never acts twice."""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps

import sqlalchemy as sa
from flask import Response, request
from flask_babel import gettext as _

from socialforce.platform.extensions import db
from socialforce.platform.models import IdempotentResponse
from socialforce.portals.api.auth import current_token
from socialforce.portals.api.problems import problem

HEADER = "Idempotency-Key"
MAX_KEY = 100
PENDING = 0  # the status of a claimed key whose request is still running

HEADER_DOC = {"in": "header", "name": HEADER, "required": False,
              "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY},
              "description": "A client-chosen key: a retried request with the same key is answered from the first "
                             "one and never acts twice."}


def _claim(key: str) -> IdempotentResponse | None:
    """Claim the key for this request; the existing row if the key was used before."""
    token_id = current_token().id
    db.session.commit()  # end the read transaction before the atomic claim
    try:
        db.session.add(IdempotentResponse(token_id=token_id, key=key, method=request.method, path=request.path,
                                          status=PENDING, body=""))
        db.session.commit()
        return None
    except sa.exc.IntegrityError:
        db.session.rollback()
        return db.session.scalar(sa.select(IdempotentResponse).where(
            IdempotentResponse.token_id == token_id, IdempotentResponse.key == key))


def idempotent(view: Callable) -> Callable:
    """Honour the Idempotency-Key header of a POST view."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return view(*args, **kwargs)
        if not 0 < len(key) <= MAX_KEY:
            return problem(422, _("The Idempotency-Key must be 1 to 100 characters."),
                           [{"path": f"headers/{HEADER}", "message": _("Length must be between 1 and 100.")}])
        earlier = _claim(key)
        if earlier is not None:
            if earlier.method != request.method or earlier.path != request.path:
                return problem(409, _("This Idempotency-Key was used for another request."),
                               [{"path": f"headers/{HEADER}", "message": _("Already used for another request.")}])
            if earlier.status == PENDING:
                return problem(409, _("A request with this Idempotency-Key is still running."))
            return Response(earlier.body, status=earlier.status, content_type=_content_type(earlier.status))
        token_id = current_token().id
        try:
            response = view(*args, **kwargs)
        except BaseException:
            _release(token_id, key)
            raise
        response = _as_response(response)
        if response.status_code >= 500:
            _release(token_id, key)
        else:
            db.session.execute(sa.update(IdempotentResponse).where(
                IdempotentResponse.token_id == token_id, IdempotentResponse.key == key)
                .values(status=response.status_code, body=response.get_data(as_text=True)))
            db.session.commit()
        return response

    return wrapper


def _content_type(status: int) -> str:
    return "application/json" if status < 400 else "application/problem+json"


def _as_response(value) -> Response:
    from flask import make_response

    return make_response(value)


def _release(token_id: int, key: str) -> None:
    """Free a claimed key after a failure, so that a retry may act."""
    db.session.rollback()
    db.session.execute(sa.delete(IdempotentResponse).where(
        IdempotentResponse.token_id == token_id, IdempotentResponse.key == key))
    db.session.commit()
