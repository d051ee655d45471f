"""Partner systems on /api/v1: the OAuth2 client-credentials grant (/oauth/token) and the changes feed
(/changes). Views stay thin: services/partners.py and services/changes.py hold the rules; the rows' shapes are here."""
from __future__ import annotations

from datetime import UTC

from flask import request
from flask_babel import gettext as _
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from socialforce.platform.extensions import db
from socialforce.platform.services import ServiceError, changes, partners
from socialforce.platform.services.provider_profiles import mask_name
from socialforce.portals.api.auth import require_partner
from socialforce.portals.api.problems import problem
from socialforce.portals.api.schemas import NO_NUL, LocalDateTime
from socialforce.portals.api.views import ERRORS, _errors, bp


# ------------------------------------------------------------------ schemas
class TokenRequest(Schema):
    """The client-credentials grant (RFC 6749 4.4); the id and secret may come by HTTP Basic instead."""

    grant_type = fields.String(required=True, validate=validate.Equal("client_credentials"))
    client_id = fields.String(validate=[validate.Length(1, 40), validate.Regexp(NO_NUL)])
    client_secret = fields.String(validate=[validate.Length(1, 100), validate.Regexp(NO_NUL)])
    scope = fields.String(validate=[validate.Length(max=200), validate.Regexp(NO_NUL)])


class TokenResponse(Schema):
    """A bearer token for the partner endpoints, valid for `expires_in` seconds."""

    access_token = fields.String(required=True)
    token_type = fields.String(required=True)
    expires_in = fields.Integer(required=True)
    scope = fields.String(required=True)


class ChangesQuery(Schema):
    """?since= (ISO 8601 with an offset) for the first call, then ?cursor= from the previous answer."""

    since = fields.AwareDateTime()
    cursor = fields.String(validate=[validate.Length(1, 200), validate.Regexp(NO_NUL)])
    limit = fields.Integer(load_default=100, validate=validate.Range(1, changes.MAX_LIMIT))

    @validates_schema
    def _one_start(self, data: dict, **_kwargs) -> None:
        if ("since" in data) == ("cursor" in data):
            raise ValidationError(_("Give exactly one of since and cursor."), "since")


class Change(Schema):
    """One changed record: its kind, id, time of change and its fields (no personal data beyond masked names)."""

    kind = fields.String(required=True, validate=validate.OneOf(changes.KINDS))
    id = fields.Integer(required=True)
    updated_at = LocalDateTime(required=True)
    data = fields.Dict(keys=fields.String(), required=True)


class ChangesPage(Schema):
    """Changes in (updated_at, kind, id) order; send `next_cursor` back for the next page (or the next poll)."""

    items = fields.List(fields.Nested(Change), required=True)
    next_cursor = fields.String(required=True)
    has_more = fields.Boolean(required=True)
    until = LocalDateTime(required=True)


# ------------------------------------------------------------------ rows
def _time(value):
    return LocalDateTime()._serialize(value, None, None)


def _data(kind: str, row) -> dict:
    """The synchronised fields of a row: ids, codes, states and times; a household's head masked."""
    if kind == "household":
        return {"code": row.code, "town_id": row.town_id, "village_id": row.village_id,
                "head_name_masked": mask_name(row.head_name), "phone_masked": row.phone_masked,
                "lives_alone_elderly": row.lives_alone_elderly,
                "left_on": row.left_on.isoformat() if row.left_on else None}
    if kind == "item":
        return {"household_id": row.household_id, "category": row.category.code, "status": str(row.status),
                "priority": str(row.priority), "frequency": str(row.frequency), "slots_needed": row.slots_needed,
                "created_at": _time(row.created_at), "closed_at": _time(row.closed_at)}
    if kind == "order":
        return {"item_id": row.item_id, "provider_id": row.provider_id, "state": str(row.state),
                "expected_hours": row.expected_hours, "dispatched_at": _time(row.dispatched_at),
                "responded_at": _time(row.responded_at), "completed_at": _time(row.completed_at)}
    if kind == "visit":
        return {"order_id": row.order_id, "status": str(row.status), "starts_at": _time(row.starts_at),
                "ends_at": _time(row.ends_at), "checkin_at": _time(row.checkin_at),
                "checkout_at": _time(row.checkout_at)}
    if kind == "outcome":
        return {"order_id": row.order_id, "source": str(row.source), "resolved": str(row.resolved),
                "goal_attainment": row.goal_attainment, "assessment": row.assessment,
                "recorded_at": _time(row.recorded_at)}
    return {"order_id": row.order_id, "satisfaction": row.satisfaction, "channel": str(row.channel),
            "recorded_at": _time(row.recorded_at)}


# ------------------------------------------------------------------ views
@bp.arguments(TokenRequest, location="form", unknown=RAISE)
@bp.response(200, TokenResponse)
@bp.doc(security=[], description="HTTP Basic (client id : secret) or client_id and client_secret in the form.")
@_errors(400, 401, 405, 413, 422, 429, 500)
def oauth_token(form: dict):
    """Exchange a partner's client id and secret for a short-lived bearer token (client credentials)."""
    auth = request.authorization
    client_id = auth.username if auth and auth.type == "basic" else form.get("client_id", "")
    secret = auth.password if auth and auth.type == "basic" else form.get("client_secret", "")
    try:
        token, client, seconds = partners.issue_token(client_id or "", secret or "", ip=request.remote_addr)
        db.session.commit()
    except ServiceError as e:
        db.session.rollback()
        return problem(e.status, e.message)
    response = {"access_token": token, "token_type": "Bearer", "expires_in": seconds, "scope": client.scopes}
    return response, 200, {"Cache-Control": "no-store", "Pragma": "no-cache"}


@bp.arguments(ChangesQuery, location="query", unknown=RAISE)
@bp.response(200, ChangesPage)
@_errors(*ERRORS)
def changes_since(args: dict):
    """Households (masked), items, orders, visits, outcomes and feedback of my towns changed since a time."""
    client = require_partner()
    try:
        start = (changes.decode(args["cursor"]) if "cursor" in args
                 else changes.start_at(args["since"].astimezone(UTC).replace(tzinfo=None)))
    except ServiceError as e:
        return problem(422, e.message, [{"path": "query/cursor", "message": e.message}])
    page = changes.since(client, start, args["limit"])
    return {"items": [{"kind": c.kind, "id": c.row.id, "updated_at": c.position.at, "data": _data(c.kind, c.row)}
                      for c in page.changes],
            "next_cursor": page.next.encode(), "has_more": page.has_more, "until": page.until}


__all__ = ["changes_since", "oauth_token"]
