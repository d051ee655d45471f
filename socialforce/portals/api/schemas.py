"""The API's request and response schemas (marshmallow): the OpenAPI document is generated from them.
Times are ISO 8601 with the local offset (+08:00); unknown body fields are refused (422)."""
from __future__ import annotations

from datetime import UTC, datetime

from marshmallow import Schema, fields, validate

from socialforce.platform import weekmask
from socialforce.platform.inputs import DB_INT_MAX
from socialforce.platform.localtime import LOCAL_TZ
from socialforce.platform.models import Frequency, OfferStatus, OrderState, Priority, VisitStatus
from socialforce.platform.models.tokens import SCOPES
from socialforce.platform.services.batch_dispatch import MAX_ITEMS as BATCH_MAX_ITEMS
from socialforce.platform.services.visits import MAX_DURATION, MAX_SERIES_COUNT, MIN_DURATION

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


class CancelBody(Schema):
    """Why staff cancel the order (the provider is told)."""

    reason = fields.String(required=True, validate=[validate.Length(2, 200), validate.Regexp(NO_NUL)])


class CloseBody(Schema):
    """Why staff close the item (kept in the audit log)."""

    reason = fields.String(load_default="", validate=[validate.Length(max=200), validate.Regexp(NO_NUL)])


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


# ------------------------------------------------------------------ common to the resources below
class LocalAwareDateTime(LocalDateTime):
    """An ISO 8601 time with an offset on input (e.g. 2026-12-07T09:00:00+08:00), stored as naive UTC."""

    def _deserialize(self, value, attr, data, **kwargs):
        parsed = super()._deserialize(value, attr, data, **kwargs)
        if parsed.tzinfo is None:
            raise self.make_error("invalid", input=value, obj_type="datetime with an offset")
        return parsed.astimezone(UTC).replace(tzinfo=None)


WINDOWS = fields.Integer(required=True, validate=validate.Range(0, weekmask.ALL),
                         metadata={"description": "Weekly windows: 21 bits, bit day*3+period (0 = Monday morning)."})
TEXT = [validate.Regexp(NO_NUL)]


class Position(Schema):
    """Where the caller stands (optional; both or neither)."""

    lat = fields.Float(validate=validate.Range(-90, 90), allow_none=True, load_default=None)
    lon = fields.Float(validate=validate.Range(-180, 180), allow_none=True, load_default=None)


class CheckOutBody(Position):
    notes = fields.String(load_default="", validate=[validate.Length(max=2000), *TEXT])


class NotesBody(Schema):
    """The visit's notes (they replace the earlier ones; empty clears them)."""

    notes = fields.String(required=True, validate=[validate.Length(max=2000), *TEXT])


class RescheduleBody(Schema):
    """A planned visit's new start (ISO 8601 with offset), optionally a new length, and why."""

    starts_at = LocalAwareDateTime(required=True)
    duration = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(MIN_DURATION, MAX_DURATION))
    reason = fields.String(required=True, validate=[validate.Length(2, 200), *TEXT])


class VisitCancelBody(Schema):
    """Why the planned visit is cancelled; `following`: the rest of its series too."""

    reason = fields.String(required=True, validate=[validate.Length(2, 200), *TEXT])
    following = fields.Boolean(load_default=False)


class VisitQuery(PageQuery):
    status = fields.String(validate=validate.OneOf([v.value for v in VisitStatus]))
    order_id = fields.Integer(validate=validate.Range(1, DB_INT_MAX))


class Visit(Schema):
    """A visit in the caller's scope: when, its state, check-in/out times and whether a position was given."""

    id = fields.Integer(required=True)
    order_id = fields.Integer(required=True)
    status = fields.String(required=True)
    starts_at = LocalDateTime(required=True)
    ends_at = LocalDateTime(required=True)
    checkin_at = LocalDateTime(allow_none=True, required=True)
    checkout_at = LocalDateTime(allow_none=True, required=True)
    checkin_located = fields.Boolean(required=True)
    checkout_located = fields.Boolean(required=True)
    village = fields.String(required=True)
    category = fields.String(required=True)
    flags = fields.List(fields.String(), required=True)


class VisitPage(Paged):
    items = fields.List(fields.Nested(Visit), required=True)


# ------------------------------------------------------------------ volunteer
class Certification(Schema):
    id = fields.Integer(required=True)
    code = fields.String(required=True)
    expires_on = fields.Date(allow_none=True, required=True)
    verified = fields.Boolean(required=True)


class HoursCertificateRow(Schema):
    number = fields.String(required=True)
    hours = fields.Float(required=True)
    period_from = fields.Date(required=True)
    period_to = fields.Date(required=True)
    revoked = fields.Boolean(required=True)


class OutcomeRow(Schema):
    source = fields.String(required=True)
    resolved = fields.String(required=True)
    goal_attainment = fields.Integer(required=True)
    assessment = fields.Integer(required=True)
    follow_up_item_id = fields.Integer(allow_none=True, required=True)
    recorded_at = LocalDateTime(required=True)


class VolunteerProfile(Schema):
    """My profile: skills (category codes), weekly availability, home town, masked phone, hours imported."""

    volunteer_id = fields.Integer(required=True)
    name = fields.String(required=True)
    phone_masked = fields.String(required=True)
    town = fields.String(required=True)
    status = fields.String(required=True)
    skills = fields.List(fields.String(), required=True)
    availability = fields.Integer(required=True)
    availability_cells = fields.List(fields.List(fields.Integer()), required=True)
    certifications = fields.List(fields.Nested(Certification), required=True)


class AvailabilityBody(Schema):
    availability = WINDOWS


class SkillsBody(Schema):
    """My whole list of skills (service category codes from the profile page's list), replacing the one on file."""

    skills = fields.List(fields.String(validate=[validate.Length(1, 40), *TEXT]), required=True,
                         validate=validate.Length(1, 50))


class CertificationBody(Schema):
    """A certification I hold: its code (not the background check), the certificate number and its dates."""

    code = fields.String(required=True, validate=[validate.Length(1, 40), *TEXT])
    document_no = fields.String(required=True, validate=[validate.Length(4, 60), *TEXT])
    issued_on = fields.Date(load_default=None, allow_none=True)
    expires_on = fields.Date(load_default=None, allow_none=True)


class CertificationRemoveBody(Schema):
    """Which of my certifications to remove (its id in my profile's list)."""

    qualification_id = ID


class WaitlistResult(Schema):
    """My entry on a task's waitlist (none: never on it), my place in the queue while waiting, and whether I hold a
    place."""

    task_id = fields.Integer(required=True)
    waitlist_state = fields.String(allow_none=True, required=True)
    position = fields.Integer(allow_none=True, required=True)
    offer_expires_at = LocalDateTime(allow_none=True, required=True)
    signed_up = fields.Boolean(required=True)


class ServiceRecord(Schema):
    id = fields.Integer(required=True)
    served_on = fields.Date(required=True)
    minutes = fields.Integer(required=True)
    content = fields.String(required=True)
    confirmed = fields.Boolean(required=True)


class Hours(Paged):
    """My confirmed hours and star level, my service records (paged) and my certificates."""

    confirmed_minutes = fields.Integer(required=True)
    imported_hours = fields.Float(required=True)
    stars = fields.Integer(required=True)
    next_stars_at_hours = fields.Integer(allow_none=True, required=True)
    certificates = fields.List(fields.Nested(HoursCertificateRow), required=True)
    items = fields.List(fields.Nested(ServiceRecord), required=True)


# ------------------------------------------------------------------ provider
class OrderDetail(ProviderOrder):
    """One order of my organisation with its visits and outcomes."""

    description = fields.String(required=True)
    town = fields.String(required=True)
    visits = fields.List(fields.Nested(Visit), required=True)
    outcomes = fields.List(fields.Nested(OutcomeRow), required=True)


class Worker(Schema):
    """A social worker (agency) or cadre (unit) of my organisation; the phone masked."""

    id = fields.Integer(required=True)
    name = fields.String(required=True)
    role = fields.String(required=True)
    certificate_level = fields.String(allow_none=True, required=True)
    phone_masked = fields.String(allow_none=True, required=True)
    active = fields.Boolean(required=True)


class WorkerQuery(PageQuery):
    active = fields.Boolean()


class WorkerPage(Paged):
    items = fields.List(fields.Nested(Worker), required=True)


class PlanBody(Schema):
    """A visit for the order's worker: its start (ISO 8601 with offset) and length; optionally a weekly series."""

    starts_at = LocalAwareDateTime(required=True)
    duration = fields.Integer(load_default=60, validate=validate.Range(MIN_DURATION, MAX_DURATION))
    repeat = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(["weekly", "fortnightly",
                                                                                        "monthly"]))
    count = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(2, MAX_SERIES_COUNT))


class OutcomeBody(Schema):
    """The provider's outcome of the order (closes it once its visits are done)."""

    resolved = fields.String(required=True, validate=validate.OneOf(["yes", "partly", "no"]))
    goal_attainment = fields.Integer(required=True, validate=validate.Range(-2, 2))
    assessment = fields.Integer(required=True, validate=validate.Range(1, 5))
    comment = fields.String(load_default=None, allow_none=True, validate=[validate.Length(max=500), *TEXT])
    follow_up = fields.String(load_default=None, allow_none=True, validate=[validate.Length(max=500), *TEXT])
    follow_up_category_id = fields.Integer(load_default=None, allow_none=True,
                                           validate=validate.Range(1, DB_INT_MAX))


class Offer(Schema):
    id = fields.Integer(required=True)
    title = fields.String(required=True)
    description = fields.String(required=True)
    slots_per_week = fields.Integer(required=True)
    windows = fields.Integer(required=True)
    valid_from = fields.Date(required=True)
    valid_to = fields.Date(required=True)
    status = fields.String(required=True)
    category_ids = fields.List(fields.Integer(), required=True)
    town_ids = fields.List(fields.Integer(), required=True)


class OfferBody(Schema):
    """An offer as its page has it: title, description, categories, towns, weekly capacity, windows and dates."""

    title = fields.String(required=True, validate=[validate.Length(max=200), *TEXT])
    description = fields.String(load_default="", validate=[validate.Length(max=1000), *TEXT])
    category_ids = fields.List(fields.Integer(validate=validate.Range(1, DB_INT_MAX)), required=True,
                               validate=validate.Length(max=100))
    town_ids = fields.List(fields.Integer(validate=validate.Range(1, DB_INT_MAX)), required=True,
                           validate=validate.Length(max=100))
    slots_per_week = fields.Integer(required=True, validate=validate.Range(0, DB_INT_MAX))
    windows = WINDOWS
    valid_from = fields.Date(required=True)
    valid_to = fields.Date(required=True)


class OfferQuery(PageQuery):
    status = fields.String(validate=validate.OneOf([o.value for o in OfferStatus]))


class OfferPage(Paged):
    items = fields.List(fields.Nested(Offer), required=True)


# ------------------------------------------------------------------ staff
class Member(Schema):
    """A household member, masked (the ID number's middle hidden; no reveal through the API)."""

    id = fields.Integer(required=True)
    name = fields.String(required=True)
    relation = fields.String(required=True)
    id_masked = fields.String(required=True)
    sex = fields.String(required=True)
    birth_year = fields.Integer(required=True)
    disability_grade = fields.Integer(required=True)


class HouseholdDetail(HouseholdRow):
    member_list = fields.List(fields.Nested(Member), required=True)
    item_ids = fields.List(fields.Integer(), required=True)


class ItemBody(Schema):
    """A service item for the household's service list."""

    category_id = fields.Integer(required=True, validate=validate.Range(1, DB_INT_MAX))
    description = fields.String(required=True, validate=[validate.Length(4, 500), *TEXT])
    member_id = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(1, DB_INT_MAX))
    priority = fields.String(load_default="normal", validate=validate.OneOf([p.value for p in Priority]))
    frequency = fields.String(load_default="once", validate=validate.OneOf([f.value for f in Frequency]))
    windows = fields.Integer(load_default=weekmask.ALL, validate=validate.Range(1, weekmask.ALL))
    slots_needed = fields.Integer(load_default=1, validate=validate.Range(1, 50))


class Item(Schema):
    id = fields.Integer(required=True)
    household_id = fields.Integer(required=True)
    member_id = fields.Integer(allow_none=True, required=True)
    category = fields.String(required=True)
    category_code = fields.String(required=True)
    description = fields.String(required=True)
    priority = fields.String(required=True)
    frequency = fields.String(required=True)
    windows = fields.Integer(required=True)
    slots_needed = fields.Integer(required=True)
    status = fields.String(required=True)
    created_at = LocalDateTime(required=True)
    order_ids = fields.List(fields.Integer(), required=True)


class Reason(Schema):
    feature = fields.String(required=True)
    contribution = fields.Float(required=True)
    value = fields.Float(required=True)


class Candidate(Schema):
    """A ranked organisation for the item with the reasons of its score."""

    rank = fields.Integer(required=True)
    provider_id = fields.Integer(required=True)
    provider = fields.String(required=True)
    score = fields.Float(required=True)
    model_version = fields.String(required=True)
    reasons = fields.List(fields.Nested(Reason), required=True)


class Ranking(Schema):
    item_id = fields.Integer(required=True)
    candidates = fields.List(fields.Nested(Candidate), required=True)


class DispatchBody(Schema):
    """To a ranked organisation (provider_id), or, for a volunteer category, as a volunteer task (none)."""

    provider_id = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(1, DB_INT_MAX))
    bring = fields.String(load_default="", validate=[validate.Length(max=200), *TEXT])


class StaffOrder(Schema):
    id = fields.Integer(required=True)
    item_id = fields.Integer(required=True)
    household_code = fields.String(required=True)
    town = fields.String(required=True)
    category = fields.String(required=True)
    state = fields.String(required=True)
    provider = fields.String(allow_none=True, required=True)
    created_at = LocalDateTime(required=True)
    dispatched_at = LocalDateTime(allow_none=True, required=True)
    response_due_at = LocalDateTime(allow_none=True, required=True)


class StaffOrderQuery(PageQuery):
    state = fields.String(validate=validate.OneOf([s.value for s in OrderState]))
    town = fields.Integer(validate=validate.Range(1, DB_INT_MAX))
    category = fields.String(validate=[validate.Length(max=40), *TEXT])
    provider = fields.String(validate=[validate.Length(max=100), *TEXT])
    from_ = fields.Date(data_key="from")
    to = fields.Date()
    number = fields.Integer(validate=validate.Range(1, DB_INT_MAX))


class StaffOrderPage(Paged):
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    items = fields.List(fields.Nested(StaffOrder), required=True)


class DashboardQuery(Schema):
    from_ = fields.Date(data_key="from")
    to = fields.Date()
    town = fields.Integer(validate=validate.Range(1, DB_INT_MAX))
    category = fields.String(validate=[validate.Length(max=40), *TEXT])


class DashboardTable(Schema):
    key = fields.String(required=True)
    title = fields.String(required=True)
    header = fields.List(fields.String(), required=True)
    rows = fields.List(fields.List(fields.Raw()), required=True)


class Dashboard(Schema):
    """The dashboard's figures for my scope and the period (default: the last complete month)."""

    start = fields.Date(required=True)
    end = fields.Date(required=True)
    town_id = fields.Integer(allow_none=True, required=True)
    category = fields.String(allow_none=True, required=True)
    headline = fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True), required=True)
    tables = fields.List(fields.Nested(DashboardTable), required=True)


class ImportProgress(Schema):
    stage = fields.String(required=True)
    done = fields.Integer(required=True)
    total = fields.Integer(required=True)


class Job(Schema):
    """A background job's state and progress (as on the jobs page)."""

    id = fields.Integer(required=True)
    kind = fields.String(required=True)
    state = fields.String(required=True)
    phase = fields.String(required=True)
    done = fields.Integer(required=True)
    total = fields.Integer(required=True)
    percent = fields.Integer(required=True)
    attempts = fields.Integer(required=True)
    error = fields.String(allow_none=True, required=True)
    result = fields.Dict(keys=fields.String(), values=fields.Raw(), allow_none=True, required=True)


class BatchDispatchBody(Schema):
    """The items to dispatch at once by the capacity-aware assignment (ids in my towns; others are ignored)."""

    item_ids = fields.List(fields.Integer(validate=validate.Range(1, DB_INT_MAX)), required=True,
                           validate=validate.Length(1, BATCH_MAX_ITEMS))


class ImportStatus(Schema):
    """One of my imports: its state (uploaded, valid, invalid, running, done, failed), progress, rows written per
    table and its latest background job."""

    state = fields.String(allow_none=True, required=True)
    progress = fields.Nested(ImportProgress, allow_none=True, required=True)
    written = fields.Dict(keys=fields.String(), values=fields.Integer(), allow_none=True, required=True)
    job = fields.Nested(Job, allow_none=True, required=True)
