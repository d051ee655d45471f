"""The access policy (role x resource x action) and the helpers the security tests share.

POLICY maps each blueprint (or a single endpoint, which wins) to the roles that may use it; object-level rules
(OWNED) say which rows of a kind a user may reach. Every route of `app.url_map` must be covered: a new blueprint
or an unfillable URL parameter makes the tests fail, naming the route.
"""
from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from flask import Flask

from socialforce.platform import crypto
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    Agency,
    ApiClient,
    ApiToken,
    BackgroundJob,
    Contract,
    Household,
    ItemDraft,
    Member,
    MemberRole,
    Notification,
    Order,
    OutboxMessage,
    Pairing,
    PairingUnit,
    Provider,
    ProviderMember,
    Qualification,
    Role,
    ServiceItem,
    ServiceOffer,
    ServiceRecord,
    TaskSignup,
    Town,
    User,
    Visit,
    Volunteer,
    VolunteerTask,
    provider_counties,
)
from socialforce.platform.seed import DEMO_LOGINS
from socialforce.portals.staff import ROUTES as STAFF_ROUTES

ANYONE = "anyone"  # anonymous visitors too
LOGGED_IN = frozenset(Role)
STAFF = frozenset({Role.city_staff, Role.town_staff, Role.prefecture_staff})
WRITING_STAFF = STAFF - {Role.prefecture_staff}  # prefecture staff read every county and change nothing
AGENCY = frozenset({Role.agency_admin, Role.social_worker})
UNIT = frozenset({Role.unit_admin, Role.cadre})
VOLUNTEER = frozenset({Role.volunteer})
VILLAGE = frozenset({Role.village_assistant})
# The JSON API: only `Authorization: Bearer <token>` reaches it, so every cookie client (anonymous or logged in)
# gets 401 with no data here; tests/portals/test_api*.py walk it with each role's tokens and scopes.
BEARER = "bearer token"

# Blueprint -> who may use it.
POLICY: dict[str, object] = {
    "public": ANYONE, "static": ANYONE, "hsds": ANYONE,
    "staff": STAFF, "agency": AGENCY, "unit": UNIT, "volunteer": VOLUNTEER, "village": VILLAGE, "inbox": LOGGED_IN,
    "api": BEARER, "api-docs": ANYONE,  # api-docs: the public OpenAPI document /api/v1/openapi.json
    "api_reference": ANYONE,  # the reference page /api/v1/docs and its Swagger UI files
}
# Staff endpoints that change something (a rule taking POST: its form's GET too), imports and the matching review
# (a dispatch page): closed to prefecture staff, whose only POST is the audited reveal.
STAFF_WRITES = {f"staff.{endpoint}" for _rule, endpoint, _view, methods in STAFF_ROUTES
                if "POST" in methods and endpoint != "reveal"} | {
    "staff.imports", "staff.import_template", "staff.import_preview", "staff.import_status", "staff.import_errors",
    "staff.matching_review"}
# Endpoint -> who may use it (overrides the blueprint's entry).
ENDPOINT_POLICY: dict[str, object] = {
    **{endpoint: WRITING_STAFF for endpoint in STAFF_WRITES},
    "public.logout": LOGGED_IN,
    "public.change_password": LOGGED_IN,
    "public.calendar_settings": frozenset({Role.volunteer, Role.social_worker, Role.cadre, Role.agency_admin,
                                           Role.unit_admin}),  # staff have no calendar feed
    "public.account": LOGGED_IN,
    "public.tokens": LOGGED_IN,
    "public.token_revoke": LOGGED_IN,
    "public.contact_start": LOGGED_IN,
    "public.contact_confirm": LOGGED_IN,
    **{f"staff.{endpoint}": frozenset({Role.city_staff})
       for endpoint in ("accounts", "account_status", "account_reset")},
    "staff.account_new": WRITING_STAFF,  # town staff create village assistants of their town there
    "inbox.failed": frozenset({Role.city_staff}),
    "staff.partners": frozenset({Role.city_staff}),  # partner systems are registered by the city bureau
    "staff.partner_revoke": frozenset({Role.city_staff}),
    "staff.grants": frozenset({Role.city_staff}),  # a county lets another county's provider serve it
    "staff.grant_revoke": frozenset({Role.city_staff}),
    "api.oauth_token": ANYONE,  # the client-credentials grant: a partner's id and secret, not a login
    "inbox.retry": frozenset({Role.city_staff}),
    **{f"{portal}.{endpoint}": frozenset({admin}) for portal, admin in (("agency", Role.agency_admin),
                                                                        ("unit", Role.unit_admin))
       for endpoint in ("profile_edit", "offer_new", "offer_edit", "offer_pause", "offer_resume")},
    **{f"agency.{endpoint}": frozenset({Role.agency_admin})
       for endpoint in ("workers", "worker_new", "worker_edit", "worker_status", "worker_reset")},
    **{f"unit.{endpoint}": frozenset({Role.unit_admin})
       for endpoint in ("cadres", "cadre_new", "cadre_edit", "cadre_status", "cadre_reset")},
    # the register of organisations is the city bureau's; pairings are any staff's (object-scoped, OWNED)
    **{f"staff.{endpoint}": frozenset({Role.city_staff})
       for endpoint in ("agencies", "agency_new", "agency_contracts", "agency_edit", "contract_new", "contract_edit",
                        "units", "unit_new", "unit_edit")},
}

USERS = [username for username, _role, _note in DEMO_LOGINS]
ID_RE = re.compile(r"(?<![0-9A-Za-z])[1-9]\d{16}[\dXx](?![0-9A-Za-z])")


def allowed_roles(endpoint: str):
    """Who may use an endpoint; KeyError (with the endpoint) when the policy does not cover it."""
    if endpoint in ENDPOINT_POLICY:
        return ENDPOINT_POLICY[endpoint]
    blueprint = endpoint.split(".", 1)[0] if "." in endpoint else endpoint
    if blueprint not in POLICY:
        raise KeyError(f"{endpoint}: no access policy for blueprint {blueprint!r}; add it to tests/security/support.py")
    return POLICY[blueprint]


def may_use(role: Role | None, endpoint: str) -> bool:
    """Whether a role (None: anonymous) may use the endpoint."""
    allowed = allowed_roles(endpoint)
    return allowed == ANYONE or (isinstance(allowed, frozenset) and role is not None and role in allowed)


@dataclass(frozen=True)
class Route:
    endpoint: str
    rule: str
    method: str
    params: tuple[str, ...]


def routes(app: Flask) -> list[Route]:
    """Every (rule, method) of the URL map except HEAD/OPTIONS."""
    found = []
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append(Route(rule.endpoint, rule.rule, method, tuple(rule.arguments)))
    return sorted(found, key=lambda r: (r.rule, r.method))


def user(username: str) -> User:
    return db.session.scalar(sa.select(User).where(User.username == username))


def _county_towns(u: User):
    return sa.select(Town.id).where(Town.county_id == u.county_id)


def _town_scope(u: User, town_id):
    """Staff see rows of their town (county staff: their county's towns; prefecture staff: all); nobody else any."""
    if u.role == Role.prefecture_staff:
        return sa.true()
    if u.role == Role.city_staff:
        return town_id.in_(_county_towns(u))
    if u.role == Role.town_staff:
        return town_id == u.town_id
    return sa.false()


def _household_scope(u: User):
    """Staff: their town's households (city: all); a village assistant: their village's; nobody else any."""
    if u.role == Role.village_assistant:
        return Household.village_id == u.village_id
    return _town_scope(u, Household.town_id)


def _provider_orders(u: User):
    query = sa.select(Order.id).where(Order.provider_id == u.provider_id)
    if u.role in (Role.social_worker, Role.cadre):
        query = query.where(Order.assignee_id == u.member_id)
    return query


def _provider_visits(u: User):
    query = sa.select(Visit.id).where(Visit.order_id.in_(_provider_orders(u)))
    if u.role in (Role.social_worker, Role.cadre):
        query = query.where(Visit.assignee_id == u.member_id)
    return query


def _volunteer_id(u: User) -> int | None:
    return db.session.scalar(sa.select(Volunteer.id).where(Volunteer.provider_id == u.provider_id))


def _volunteer_orders(u: User):
    """Orders of the tasks the volunteer signed up for."""
    return (sa.select(Order.id).join(VolunteerTask, VolunteerTask.order_id == Order.id)
            .join(TaskSignup, TaskSignup.task_id == VolunteerTask.id)
            .where(TaskSignup.volunteer_id == _volunteer_id(u)))


def _own_members(role: MemberRole):
    return lambda u: sa.select(ProviderMember.id).where(ProviderMember.provider_id == u.provider_id,
                                                        ProviderMember.role == role)


def _unit_pairings(u: User):
    """The unit's current pairings (a cadre: the ones they visit)."""
    query = sa.select(Pairing.id).where(Pairing.provider_id == u.provider_id, Pairing.ended_on.is_(None))
    if u.role == Role.cadre:
        query = query.where(Pairing.cadre_id == u.member_id)
    return query


def _any_row(column):
    """Another portal's cells (the matrix fills denied cells as city staff): any row will do."""
    return lambda _u: sa.select(column)


def _provider_scope(u: User):
    """Staff see providers of their town (county staff: based in or granted their county; prefecture: all)."""
    if u.role == Role.prefecture_staff:
        return sa.true()
    if u.role == Role.city_staff:
        return sa.or_(Provider.county_id == u.county_id, Provider.id.in_(
            sa.select(provider_counties.c.provider_id).where(provider_counties.c.county_id == u.county_id)))
    return _town_scope(u, Provider.town_id)


def _county_staff_only(u: User, clause):
    """The city bureau's registers: county staff see their county's rows; nobody else any."""
    return clause if u.role == Role.city_staff else sa.false()


def _own_offers(u: User):
    return sa.select(ServiceOffer.id).where(ServiceOffer.provider_id == u.provider_id)


# The object-level policy: (URL parameter, portal) -> the query of ids the user may reach there. The portal None
# is the rule for every portal without its own entry; a parameter with no rule for the portal raises KeyError.
OWNED: dict[tuple[str, str | None], Callable[[User], sa.Select]] = {
    ("household_id", None): lambda u: sa.select(Household.id).where(_household_scope(u)),
    ("member_id", None): lambda u: sa.select(Member.id).join(Household).where(_household_scope(u)),
    ("item_id", None): lambda u: sa.select(ServiceItem.id).join(Household).where(_household_scope(u)),
    ("order_id", "staff"): lambda u: (sa.select(Order.id).join(ServiceItem).join(Household)
                                      .where(_household_scope(u))),
    ("order_id", "volunteer"): _volunteer_orders,
    ("order_id", "village"): lambda u: (sa.select(Order.id).join(ServiceItem).join(Household)
                                        .where(_household_scope(u))),
    ("draft_id", None): lambda u: (sa.select(ItemDraft.id).join(Household, Household.id == ItemDraft.household_id)
                                   .where(_household_scope(u))),
    ("order_id", None): _provider_orders,
    ("visit_id", "staff"): lambda u: (sa.select(Visit.id).join(Order).join(ServiceItem).join(Household)
                                      .where(_household_scope(u))),
    ("visit_id", "volunteer"): lambda u: sa.select(Visit.id).where(Visit.volunteer_id == _volunteer_id(u)),
    ("visit_id", None): _provider_visits,
    ("notification_id", None): lambda u: sa.select(Notification.id).where(Notification.user_id == u.id),
    ("task_id", None): lambda _u: sa.select(VolunteerTask.id),
    ("token_id", None): lambda u: sa.select(ApiToken.id).where(ApiToken.user_id == u.id),
    ("message_id", None): lambda _u: sa.select(OutboxMessage.id),
    ("record_id", None): lambda u: (sa.select(ServiceRecord.id).join(Visit).join(Order).join(ServiceItem)
                                    .join(Household).where(_household_scope(u))),
    ("provider_id", "staff"): lambda u: sa.select(Provider.id).where(_provider_scope(u)),
    ("qualification_id", "staff"): lambda u: (sa.select(Qualification.id).join(Provider)
                                              .where(_provider_scope(u))),
    ("offer_id", "agency"): _own_offers,
    ("offer_id", "unit"): _own_offers,
    ("offer_id", None): _any_row(ServiceOffer.id),
    ("worker_id", "agency"): _own_members(MemberRole.social_worker),
    ("worker_id", None): _any_row(ProviderMember.id),
    ("cadre_id", "unit"): _own_members(MemberRole.cadre),
    ("cadre_id", None): _any_row(ProviderMember.id),
    ("pairing_id", "unit"): _unit_pairings,
    ("pairing_id", "staff"): lambda u: sa.select(Pairing.id).join(Household, Household.id == Pairing.household_id)
    .where(_household_scope(u)),
    # partner clients are the city bureau's register (none exist in the demo: the revoke cell is denied-only)
    ("partner_id", "staff"): lambda u: sa.select(ApiClient.id).where(sa.true() if u.role == Role.city_staff
                                                                    else sa.false()),
    ("agency_id", "staff"): lambda u: (sa.select(Agency.id).join(Provider, Provider.id == Agency.provider_id)
                                       .where(_county_staff_only(u, _provider_scope(u)))),
    ("unit_id", "staff"): lambda u: (sa.select(PairingUnit.id).join(Provider, Provider.id == PairingUnit.provider_id)
                                     .where(_county_staff_only(u, _provider_scope(u)))),
    ("contract_id", "staff"): lambda u: (sa.select(Contract.id).join(Agency, Agency.id == Contract.agency_id)
                                         .join(Provider, Provider.id == Agency.provider_id)
                                         .where(_county_staff_only(u, _provider_scope(u)))),
    ("pairing_id", None): _any_row(Pairing.id),
    ("job_id", "staff"): lambda u: sa.select(BackgroundJob.id).where(
        sa.or_(BackgroundJob.owner_id.is_(None), BackgroundJob.owner_id.in_(
            sa.select(User.id).where(User.county_id == u.county_id)))
        if u.role == Role.city_staff else BackgroundJob.owner_id == u.id),
    ("user_id", "staff"): lambda u: sa.select(User.id).where(_county_staff_only(u, User.county_id == u.county_id)),
}


def owned_ids(kind: str, u: User, portal: str) -> list[int]:
    """The ids of a kind the user may reach through a portal (the object-level policy, OWNED), ascending."""
    rule = OWNED.get((kind, portal)) or OWNED.get((kind, None))
    if rule is None:
        raise KeyError(kind)
    return list(db.session.scalars(rule(u).order_by(sa.text("1"))))


ALL_IDS = {
    "household_id": Household.id, "member_id": Member.id, "item_id": ServiceItem.id, "order_id": Order.id,
    "visit_id": Visit.id, "notification_id": Notification.id, "record_id": ServiceRecord.id,
    "provider_id": Provider.id, "qualification_id": Qualification.id, "offer_id": ServiceOffer.id,
    "worker_id": ProviderMember.id, "cadre_id": ProviderMember.id, "pairing_id": Pairing.id,
    "job_id": BackgroundJob.id, "draft_id": ItemDraft.id,
    "agency_id": Agency.id, "unit_id": PairingUnit.id, "contract_id": Contract.id,
}


def foreign_ids(kind: str, u: User, portal: str, limit: int = 3) -> list[int]:
    """Up to `limit` existing ids of a kind the user may NOT reach (spread over the table)."""
    if kind not in ALL_IDS:
        return []
    mine = set(owned_ids(kind, u, portal))
    others = [i for i in db.session.scalars(sa.select(ALL_IDS[kind]).order_by(ALL_IDS[kind])) if i not in mine]
    if len(others) <= limit:
        return others
    step = len(others) // limit
    return [others[k * step] for k in range(limit)]


def personal_secrets() -> set[str]:
    """Every plaintext resident ID and phone number in the database (decrypted here, for scanning)."""
    values: set[str] = set()
    for column in (Member.id_number_enc, Volunteer.id_number_enc, Volunteer.phone_enc, Household.phone_enc,
                   ProviderMember.phone_enc, Agency.contact_phone_enc):
        for token in db.session.scalars(sa.select(column).where(column.is_not(None))):
            values.add(crypto.decrypt(token))
    return values


def leaks(text: str, secrets: set[str]) -> list[str]:
    """The plaintext IDs/phones (from `secrets`) and ID-shaped numbers that appear in a text."""
    found = {s for s in secrets if s in text}
    found |= {m for m in ID_RE.findall(text) if m.upper() in secrets or m in secrets}
    return sorted(found)


def answer_text(response) -> str:
    """A response body as text for scanning; an .xlsx (zip) answer is unpacked to its XML parts."""
    data = response.get_data()
    if data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "\n".join(archive.read(name).decode("utf-8", "replace") for name in archive.namelist())
    return data.decode("utf-8", "replace")
