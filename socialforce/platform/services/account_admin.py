"""Accounts managed by city staff: town staff and organisation administrators (agency_admin, unit_admin), and the
first city-staff account (create-admin); village assistants (村居协理员), created by city staff or by the town staff
of the village's town. Create, deactivate, reactivate; resets are services/password_reset.py.
No account is ever deleted, so history stays attributable. A new account gets no password from its manager: it
starts with an unusable one and a one-time set-password link or code, shown once.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from socialforce.platform import reference, scoping
from socialforce.platform.extensions import db
from socialforce.platform.models import County, Provider, ProviderKind, Role, Town, User, Village
from socialforce.platform.services import ServiceError, accounts, audit, password_reset
from socialforce.platform.services.provider_profiles import USERNAME_RE

MANAGED_ROLES = (Role.town_staff, Role.agency_admin, Role.unit_admin, Role.village_assistant)
TOWN_MANAGED_ROLES = (Role.village_assistant,)  # the roles town staff create, for villages of their town
PROVIDER_KIND = {Role.agency_admin: ProviderKind.agency, Role.unit_admin: ProviderKind.unit}
NAME_MIN, NAME_MAX = 2, 60


@dataclass(frozen=True)
class Filters:
    """The list's filters: a role, a town, active or not (None: any)."""

    role: Role | None = None
    town_id: int | None = None
    active: bool | None = None


def accounts_query(filters: Filters, actor: User) -> sa.Select:
    """Every account in the actor's scope matching the filters (a town: its town staff and its organisations'
    accounts), by username."""
    query = (sa.select(User).options(selectinload(User.town), selectinload(User.provider))
             .where(scoping.user_filter(actor)))
    if filters.role is not None:
        query = query.where(User.role == filters.role)
    if filters.town_id is not None:
        query = query.where(sa.or_(User.town_id == filters.town_id, User.provider_id.in_(
            sa.select(Provider.id).where(Provider.town_id == filters.town_id))))
    if filters.active is not None:
        query = query.where(User.active.is_(filters.active))
    return query.order_by(User.username, User.id)


def organisations(role: Role, actor: User) -> list[Provider]:
    """The agencies (agency_admin) or pairing units (unit_admin) in the actor's scope an administrator can be
    created for."""
    return list(db.session.scalars(sa.select(Provider).where(Provider.kind == PROVIDER_KIND[role],
                                                             scoping.provider_filter(actor))
                                   .order_by(Provider.name, Provider.id)))


@dataclass(frozen=True)
class NewAccount:
    """What the new-account form submits; `reset` is how the person gets their first password (link or code)."""

    username: str
    display_name: str
    role: str
    town_id: int | None = None
    provider_id: int | None = None
    reset: str = "link"
    village_id: int | None = None


class AccountInvalid(ServiceError):
    """Refused account input: one message per field (already translated)."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(next(iter(errors.values())), status=400, field=next(iter(errors)))
        self.errors = errors


def villages_for(actor: User) -> list[Village]:
    """The villages the actor may create a village assistant for: their county's (county staff), their town's
    (town staff)."""
    query = (sa.select(Village).options(selectinload(Village.town)).order_by(Village.town_id, Village.id)
             .where(scoping.town_filter(actor, Village.town_id)))
    return list(db.session.scalars(query))


def _errors(data: NewAccount, actor: User) -> dict[str, str]:
    errors: dict[str, str] = {}
    username = (data.username or "").strip()
    if not USERNAME_RE.match(username):
        errors["username"] = _("Use 3 to 60 letters, digits, dots, hyphens or underscores.")
    elif db.session.scalar(sa.select(User.id).where(User.username == username)):
        errors["username"] = _("This username is taken; choose another.")
    if not NAME_MIN <= len((data.display_name or "").strip()) <= NAME_MAX:
        errors["display_name"] = _("Enter a name of %(low)s to %(high)s characters.", low=NAME_MIN, high=NAME_MAX)
    allowed = MANAGED_ROLES if actor.role == Role.city_staff else TOWN_MANAGED_ROLES
    role = Role(data.role) if data.role in {r.value for r in allowed} else None
    if role is None:
        errors["role"] = (_("Choose town staff, agency administrator, pairing-unit administrator or village "
                            "assistant.") if actor.role == Role.city_staff else
                          _("Town staff create village-assistant accounts only."))
    elif role == Role.village_assistant:
        village = db.session.get(Village, data.village_id) if data.village_id else None
        if village is None or village.id not in {v.id for v in villages_for(actor)}:
            errors["village_id"] = _("Choose a village of your town from the list.")
    elif role == Role.town_staff and (data.town_id is None or not db.session.scalar(
            sa.select(Town.id).where(Town.id == data.town_id, scoping.town_filter(actor, Town.id)))):
        errors["town_id"] = _("Choose a town from the list.")
    elif role in PROVIDER_KIND:
        provider = db.session.scalar(sa.select(Provider).where(
            Provider.id == data.provider_id, scoping.provider_filter(actor))) if data.provider_id else None
        if provider is None or provider.kind != PROVIDER_KIND[role]:
            errors["provider_id"] = (_("Choose an agency from the list.") if role == Role.agency_admin
                                     else _("Choose a pairing unit from the list."))
    if data.reset not in ("link", "code"):
        errors["reset"] = _("Choose a link or a code.")
    return errors


def create_account(data: NewAccount, actor: User, now: datetime,
                   ip: str | None = None) -> tuple[User, password_reset.IssuedReset]:
    """Create a town-staff, administrator or village-assistant account with a one-time set-password link or code;
    audited. Town staff create only village assistants of their town."""
    if actor.role not in (Role.city_staff, Role.town_staff):
        raise ServiceError(_("Only county staff manage these accounts."), status=403)
    errors = _errors(data, actor)
    if errors:
        raise AccountInvalid(errors)
    role = Role(data.role)
    village = db.session.get(Village, data.village_id) if role == Role.village_assistant else None
    town_id = data.town_id if role == Role.town_staff else village.town_id if village else None
    user = User(username=data.username.strip(), password_hash=accounts.unusable_password_hash(), role=role,
                display_name=data.display_name.strip(), town_id=town_id, village_id=village.id if village else None,
                provider_id=data.provider_id if role in PROVIDER_KIND else None)
    db.session.add(user)
    db.session.flush()  # a concurrent account with the same username fails on the UNIQUE constraint: the view says so
    audit.record("account_created", actor, "user", user.id, ip=ip, role=role.value, town_id=user.town_id,
                 village_id=user.village_id, provider_id=user.provider_id)
    return user, password_reset.issue_reset(user, data.reset, actor, now, ip)


def set_active(user: User, active: bool, actor: User, ip: str | None = None) -> User:
    """Deactivate (every session ends at once; the account stays, with its history) or reactivate an account."""
    if actor.role != Role.city_staff or not password_reset.may_reset(actor, user):
        raise ServiceError(_("You do not manage this account."), status=403)
    if user.member_id is not None:
        raise ServiceError(_("Social workers and cadres are deactivated by their organisation's administrator."))
    if user.role == Role.volunteer:
        raise ServiceError(_("Volunteers are managed on the volunteers' pages."))
    done = db.session.execute(sa.update(User).where(User.id == user.id, User.active.is_(not active))
                              .values(active=active).execution_options(synchronize_session=False))
    db.session.refresh(user, ["active"])
    if done.rowcount != 1:
        raise ServiceError(_("This account is already active.") if active else
                           _("This account is already deactivated."))
    if not active:
        accounts.end_sessions(user)
    audit.record("account_reactivated" if active else "account_deactivated", actor, "user", user.id, ip=ip)
    return user


class AdminExists(Exception):
    """create-admin found a city-staff account and was not told to add another."""


def city_staff_exists(county: County | None = None) -> bool:
    """Whether any city-staff account exists (active or not), of the county when one is given."""
    query = sa.select(sa.func.count(User.id)).where(User.role == Role.city_staff)
    if county is not None:
        query = query.where(User.county_id == county.id)
    return db.session.scalar(query) > 0


def admin_county(code: str | None) -> County:
    """The county a create-admin account is for: the one with `code`; without a code the only county (the home
    county on an empty database). ServiceError naming the codes for an unknown code or, without one, several."""
    counties = db.session.scalars(sa.select(County).order_by(County.id)).all()
    codes = ", ".join(c.code for c in counties)
    if code is not None:
        county = next((c for c in counties if c.code == code.strip()), None)
        if county is None:
            raise ServiceError(_("Unknown county %(code)s; the counties are: %(codes)s.", code=code,
                                 codes=codes or "-"), 400, "county")
        return county
    if len(counties) > 1:
        raise ServiceError(_("There are several counties: choose one with --county (%(codes)s).", codes=codes),
                           400, "county")
    return counties[0] if counties else reference.home_county()


def create_first_admin(username: str, display_name: str, password: str | None, force_another: bool,
                       now: datetime, county: County | None = None) -> tuple[User, password_reset.IssuedReset | None]:
    """The first county-staff account (create-admin) of a county (default: `admin_county(None)`, the only one):
    with a password, or (None) a one-time set-password link.

    Refuses (AdminExists) when the county has a city-staff account, unless `force_another`; ServiceError for a
    refused username, name or password, or when no county is given and there are several.
    """
    county = county or admin_county(None)
    if not force_another and city_staff_exists(county):
        raise AdminExists(username)
    username = (username or "").strip()
    if not USERNAME_RE.match(username):
        raise ServiceError(_("Use 3 to 60 letters, digits, dots, hyphens or underscores."), 400, "username")
    if db.session.scalar(sa.select(User.id).where(User.username == username)):
        raise ServiceError(_("This username is taken; choose another."), 400, "username")
    if not NAME_MIN <= len((display_name or "").strip()) <= NAME_MAX:
        raise ServiceError(_("Enter a name of %(low)s to %(high)s characters.", low=NAME_MIN, high=NAME_MAX),
                           400, "display_name")
    if password is not None and (problem := accounts.password_problem(password)):
        raise ServiceError(problem, 400, "password")
    user = accounts.create_user(username, password or "", Role.city_staff, display_name.strip(), county_id=county.id)
    if password is None:
        user.password_hash = accounts.unusable_password_hash()
    audit.record("account_created", None, "user", user.id, role=Role.city_staff.value, via="create-admin",
                 county=county.code)
    issued = password_reset.issue_reset(user, "link", None, now) if password is None else None
    return user, issued
