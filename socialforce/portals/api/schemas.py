"""The API's request and response schemas (marshmallow): the OpenAPI document is generated from them.
Times are ISO 8601 with the local offset (+08:00); unknown body fields are refused (422)."""
from __future__ import annotations

from datetime import UTC, datetime

from marshmallow import Schema, fields, validate

from socialforce.platform.inputs import DB_INT_MAX
from socialforce.platform.localtime import LOCAL_TZ
from socialforce.platform.models import OrderState
from socialforce.platform.models.tokens import SCOPES

NO_NUL = r"^[^\x00]*$"  # the platform refuses a NUL byte anywhere in a request (400)
ID = fields.Integer(required=True, validate=validate.Range(1, DB_INT_MAX))


class LocalDateTime(fields.DateTime):
    """A stored naive-UTC time written as ISO 8601 in Asia/Shanghai, e.g. 2026-12-06T16:30:00+08:00."""

    def _serialize(self, value: datetime | None, attr, obj, **kwargs):
        if value is None:
            return None
        return value.replace(tzinfo=UTC).astimezone(LOCAL_TZ).isoformat(timespec="seconds")


class Problem(Schema):
    """RFC 9457 problem details."""

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String()
    instance = fields.String()
    errors = fields.List(fields.Dict(keys=fields.String(), values=fields.String()))


class PageQuery(Schema):
    """?page= (1-based)."""

    page = fields.Integer(load_default=1, validate=validate.Range(1, 100_000))


class Paged(Schema):
    """The envelope of a page: its number, the page size, the total and the number of pages."""

    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    total = fields.Integer(required=True)
    pages = fields.Integer(required=True)


class Me(Schema):
    """The token's user and the token's own scopes and expiry."""

    id = fields.Integer(required=True)
    username = fields.String(required=True)
    display_name = fields.String(required=True)
    role = fields.String(required=True)
    locale = fields.String(allow_none=True)
    scopes = fields.List(fields.String(validate=validate.OneOf(SCOPES)), required=True)
    token_expires_at = LocalDateTime(required=True)


class Task(Schema):
    """An open volunteer task ranked for the caller: where and when, how many places are left, the fit."""

    task_id = fields.Integer(required=True)
    order_id = fields.Integer(required=True)
    item_id = fields.Integer(required=True)
    category = fields.String(required=True)
    town = fields.String(required=True)
    village = fields.String(required=True)
    description = fields.String(required=True)
    starts_at = LocalDateTime(allow_none=True, required=True)
    slots = fields.Integer(required=True)
    places_left = fields.Integer(required=True)
    score = fields.Float(required=True)


class TaskPage(Paged):
    items = fields.List(fields.Nested(Task), required=True)


class SignupResult(Schema):
    """The task after the caller's sign-up or withdrawal."""

    task_id = fields.Integer(required=True)
    signed_up = fields.Boolean(required=True)
    places_left = fields.Integer(required=True)


class WithdrawBody(Schema):
    """Why the volunteer withdraws (needed once the order is accepted)."""

    reason = fields.String(load_default="", validate=[validate.Length(max=200), validate.Regexp(NO_NUL)])


class OrderQuery(PageQuery):
    state = fields.String(validate=validate.OneOf([s.value for s in OrderState]))


class ProviderOrder(Schema):
    """An order of the caller's organisation (the need and the village: no personal data)."""

    id = fields.Integer(required=True)
    item_id = fields.Integer(required=True)
    state = fields.String(required=True)
    category = fields.String(required=True)
    village = fields.String(required=True)
    expected_hours = fields.Float(required=True)
    assignee_id = fields.Integer(allow_none=True, required=True)
    dispatched_at = LocalDateTime(allow_none=True, required=True)
    response_due_at = LocalDateTime(allow_none=True, required=True)


class ProviderOrderPage(Paged):
    items = fields.List(fields.Nested(ProviderOrder), required=True)


class AcceptBody(Schema):
    """The worker (social worker or cadre) who will serve the order."""

    assignee_id = fields.Integer(required=True, validate=validate.Range(1, DB_INT_MAX))


class DeclineBody(Schema):
    """Why the organisation declines."""

    reason = fields.String(required=True, validate=[validate.Length(1, 200), validate.Regexp(NO_NUL)])


class HouseholdQuery(PageQuery):
    q = fields.String(validate=[validate.Length(max=40), validate.Regexp(NO_NUL)])


class HouseholdRow(Schema):
    """A household in the caller's towns, masked: no address, no ID numbers, the phone's middle hidden."""

    id = fields.Integer(required=True)
    code = fields.String(required=True)
    town = fields.String(required=True)
    village = fields.String(required=True)
    head_name = fields.String(required=True)
    phone_masked = fields.String(allow_none=True, required=True)
    lives_alone_elderly = fields.Boolean(required=True)
    members = fields.Integer(required=True)


class HouseholdPage(Paged):
    items = fields.List(fields.Nested(HouseholdRow), required=True)
