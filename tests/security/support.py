"""The access policy (role x resource x action) and the helpers the security tests share.

POLICY maps each blueprint (or a single endpoint, which wins) to the roles that may use it; object-level rules
(OWNED) say which rows of a kind a user may reach. Every route of `app.url_map` must be covered: a new blueprint
or an unfillable URL parameter makes the tests fail, naming the route.
"""
from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass

import sqlalchemy as sa
from flask import Flask

from socialforce.platform import crypto
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    Household,
    Member,
    Notification,
    Order,
    OutboxMessage,
    ProviderMember,
    Role,
    ServiceItem,
    ServiceRecord,
    TaskSignup,
    User,
    Visit,
    Volunteer,
    VolunteerTask,
)
from socialforce.platform.seed import DEMO_LOGINS

ANYONE = "anyone"  # anonymous visitors too
LOGGED_IN = frozenset(Role)
STAFF = frozenset({Role.city_staff, Role.town_staff})
AGENCY = frozenset({Role.agency_admin, Role.social_worker})
UNIT = frozenset({Role.unit_admin, Role.cadre})
VOLUNTEER = frozenset({Role.volunteer})

# Blueprint -> who may use it.
POLICY: dict[str, object] = {
    "public": ANYONE, "static": ANYONE, "hsds": ANYONE,
    "staff": STAFF, "agency": AGENCY, "unit": UNIT, "volunteer": VOLUNTEER, "inbox": LOGGED_IN,
}
# Endpoint -> who may use it (overrides the blueprint's entry).
ENDPOINT_POLICY: dict[str, object] = {
    "public.logout": LOGGED_IN,
    "public.change_password": LOGGED_IN,
    "inbox.failed": frozenset({Role.city_staff}),
    "inbox.retry": frozenset({Role.city_staff}),
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
    return allowed == ANYONE or (role is not None and role in allowed)


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


def _household_scope(u: User):
    if u.role == Role.city_staff:
        return sa.true()
    if u.role == Role.town_staff:
        return Household.town_id == u.town_id
    return sa.false()


def _provider_orders(u: User):
    query = sa.select(Order.id).where(Order.provider_id == u.provider_id)
    if u.role in (Role.social_worker, Role.cadre):
        query = query.where(Order.assignee_id == u.member_id)
    return query


def _volunteer_id(u: User) -> int | None:
    return db.session.scalar(sa.select(Volunteer.id).where(Volunteer.provider_id == u.provider_id))


def owned_ids(kind: str, u: User, portal: str) -> list[int]:
    """The ids of a kind the user may reach through a portal (the object-level policy), ascending."""
    if kind == "household_id":
        query = sa.select(Household.id).where(_household_scope(u))
    elif kind == "member_id":
        query = sa.select(Member.id).join(Household).where(_household_scope(u))
    elif kind == "item_id":
        query = sa.select(ServiceItem.id).join(Household).where(_household_scope(u))
    elif kind == "order_id" and portal == "staff":
        query = sa.select(Order.id).join(ServiceItem).join(Household).where(_household_scope(u))
    elif kind == "order_id" and portal == "volunteer":  # tasks the volunteer signed up for
        query = (sa.select(Order.id).join(VolunteerTask, VolunteerTask.order_id == Order.id)
                 .join(TaskSignup, TaskSignup.task_id == VolunteerTask.id)
                 .where(TaskSignup.volunteer_id == _volunteer_id(u)))
    elif kind == "order_id":
        query = _provider_orders(u)
    elif kind == "visit_id" and portal == "staff":
        query = (sa.select(Visit.id).join(Order).join(ServiceItem).join(Household).where(_household_scope(u)))
    elif kind == "visit_id" and portal == "volunteer":
        query = sa.select(Visit.id).where(Visit.volunteer_id == _volunteer_id(u))
    elif kind == "visit_id":
        query = sa.select(Visit.id).where(Visit.order_id.in_(_provider_orders(u)))
        if u.role in (Role.social_worker, Role.cadre):
            query = query.where(Visit.assignee_id == u.member_id)
    elif kind == "notification_id":
        query = sa.select(Notification.id).where(Notification.user_id == u.id)
    elif kind == "task_id":
        query = sa.select(VolunteerTask.id)
    elif kind == "message_id":
        query = sa.select(OutboxMessage.id)
    elif kind == "record_id":
        query = (sa.select(ServiceRecord.id).join(Visit).join(Order).join(ServiceItem).join(Household)
                 .where(_household_scope(u)))
    else:
        raise KeyError(kind)
    return list(db.session.scalars(query.order_by(sa.text("1"))))


ALL_IDS = {
    "household_id": Household.id, "member_id": Member.id, "item_id": ServiceItem.id, "order_id": Order.id,
    "visit_id": Visit.id, "notification_id": Notification.id, "record_id": ServiceRecord.id,
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
                   ProviderMember.phone_enc):
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


# --- staff providers registry (staff-registry): <provider_id> on /staff/providers/... -----------------------------
_owned_ids_before_providers = owned_ids


def owned_ids(kind: str, u: User, portal: str) -> list[int]:  # noqa: F811 - extends the function above
    """Adds `provider_id` (staff: providers of the user's town, all for city staff) to the object-level policy."""
    if kind == "provider_id" and portal == "staff":
        from socialforce.platform.models import Provider

        scope = (sa.true() if u.role == Role.city_staff else Provider.town_id == u.town_id
                 if u.role == Role.town_staff else sa.false())
        return list(db.session.scalars(sa.select(Provider.id).where(scope).order_by(Provider.id)))
    return _owned_ids_before_providers(kind, u, portal)


def _register_provider_ids() -> None:
    from socialforce.platform.models import Provider

    ALL_IDS["provider_id"] = Provider.id


_register_provider_ids()


# --- provider portals (provider-portals): offers, social workers, cadres, paired households ------------------------
_owned_ids_before_provider_portals = owned_ids


def owned_ids(kind: str, u: User, portal: str) -> list[int]:  # noqa: F811 - extends the function above
    """Adds the agency/unit portals' `offer_id`, `worker_id`, `cadre_id` and `pairing_id` (own organisation only;
    a cadre: the pairings they visit)."""
    from socialforce.platform.models import MemberRole, Pairing, ServiceOffer

    if portal in ("agency", "unit") and kind == "offer_id":
        query = sa.select(ServiceOffer.id).where(ServiceOffer.provider_id == u.provider_id)
    elif portal == "agency" and kind == "worker_id":
        query = sa.select(ProviderMember.id).where(ProviderMember.provider_id == u.provider_id,
                                                   ProviderMember.role == MemberRole.social_worker)
    elif portal == "unit" and kind == "cadre_id":
        query = sa.select(ProviderMember.id).where(ProviderMember.provider_id == u.provider_id,
                                                   ProviderMember.role == MemberRole.cadre)
    elif portal == "unit" and kind == "pairing_id":
        query = sa.select(Pairing.id).where(Pairing.provider_id == u.provider_id, Pairing.ended_on.is_(None))
        if u.role == Role.cadre:
            query = query.where(Pairing.cadre_id == u.member_id)
    elif kind in ("offer_id", "worker_id", "cadre_id", "pairing_id"):
        try:
            return _owned_ids_before_provider_portals(kind, u, portal)
        except KeyError:  # another portal (the matrix fills denied cells as city staff): any row will do
            query = sa.select(ALL_IDS[kind])
    else:
        return _owned_ids_before_provider_portals(kind, u, portal)
    return list(db.session.scalars(query.order_by(sa.text("1"))))


def _register_provider_portal_ids() -> None:
    from socialforce.platform.models import Pairing, ServiceOffer

    ALL_IDS.update({"offer_id": ServiceOffer.id, "worker_id": ProviderMember.id, "cadre_id": ProviderMember.id,
                    "pairing_id": Pairing.id})
    agency_admin, unit_admin = frozenset({Role.agency_admin}), frozenset({Role.unit_admin})
    for endpoint in ("profile_edit", "offer_new", "offer_edit", "offer_pause", "offer_resume"):
        ENDPOINT_POLICY[f"agency.{endpoint}"] = agency_admin
        ENDPOINT_POLICY[f"unit.{endpoint}"] = unit_admin
    for endpoint in ("workers", "worker_new", "worker_edit", "worker_status"):
        ENDPOINT_POLICY[f"agency.{endpoint}"] = agency_admin
    for endpoint in ("cadres", "cadre_new", "cadre_edit", "cadre_status"):
        ENDPOINT_POLICY[f"unit.{endpoint}"] = unit_admin


_register_provider_portal_ids()


# --- certificate verification: <qualification_id> on /staff/providers/<provider_id>/certificates/... ---------------
_owned_ids_before_certificates = owned_ids


def owned_ids(kind: str, u: User, portal: str) -> list[int]:  # noqa: F811 - extends the function above
    """Adds `qualification_id` (staff: certificates of providers in their scope, as for `provider_id`)."""
    if kind == "qualification_id" and portal == "staff":
        from socialforce.platform.models import Provider, Qualification

        scope = (sa.true() if u.role == Role.city_staff else Provider.town_id == u.town_id
                 if u.role == Role.town_staff else sa.false())
        return list(db.session.scalars(sa.select(Qualification.id).join(Provider).where(scope)
                                       .order_by(Qualification.id)))
    return _owned_ids_before_certificates(kind, u, portal)


def _register_qualification_ids() -> None:
    from socialforce.platform.models import Qualification

    ALL_IDS["qualification_id"] = Qualification.id


_register_qualification_ids()
