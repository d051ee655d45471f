"""What an agency or pairing unit manages about itself: its profile, its social workers or cadres (each a
ProviderMember with a login), its contracts (read-only) and, for a pairing unit, its paired households with this
month's visit-quota compliance and the recording of a monthly visit.

Scope: every function takes the provider of the logged-in user (never an id from the request); a member, pairing
or contract of another provider is simply not found. Household data handed to providers is minimal: the village,
a masked head name and masked phone, never a resident ID.

Recording a monthly visit goes through the visit flow of services/visits/: the pairing's standing order
(`quotas.standing_order`), a visit planned now (or the month's planned visit moved to now), check-in, check-out. Planning
refuses past times and check-in opens an hour ahead, so the visit is placed at the first free QUOTA_RECORD_MINUTES
slot of the visiting cadre within that hour.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload

from socialforce.matching.geo import distance_km
from socialforce.platform import crypto, scoping
from socialforce.platform.extensions import db
from socialforce.platform.localtime import month_bounds, to_local
from socialforce.platform.models import (
    Contract,
    Household,
    MemberRole,
    Order,
    Pairing,
    Provider,
    ProviderKind,
    ProviderMember,
    Role,
    ServiceItem,
    Town,
    User,
    Visit,
    VisitStatus,
)
from socialforce.platform.models.orders import LIVE_STATES
from socialforce.platform.services import ServiceError, accounts, audit, matching, quotas, visits

NAME_MIN, NAME_MAX = 2, 100
CONTACT_MIN, CONTACT_MAX = 2, 40
MEMBER_NAME_MIN, MEMBER_NAME_MAX = 2, 40
MAX_RADIUS_KM = 50.0
MAX_FROM_TOWN_KM = 30.0  # the organisation's place must lie near its home town's centre
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{3,60}$")
PHONE_RE = re.compile(r"^1[3-9]\d{9}$")
CERTIFICATE_LEVELS = {
    "assistant": _l("Assistant social worker"),
    "social_worker": _l("Social worker"),
    "senior": _l("Senior social worker"),
}
MEMBER_ROLES = {MemberRole.social_worker: Role.social_worker, MemberRole.cadre: Role.cadre}
QUOTA_RECORD_MINUTES = visits.MIN_DURATION
RECORD_REASON = "monthly visit recorded"
RECORD_AGAIN_AFTER = timedelta(minutes=30)  # a second record for the same household sooner is a double submit


# ---- profile ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ProfileInput:
    """What the profile form submits (contact_name: agencies only; no place: the home town's centre)."""

    name: str
    town_id: int | None
    radius_km: float | None
    contact_name: str | None = None
    lat: float | None = None
    lon: float | None = None


def update_profile(provider: Provider, data: ProfileInput, actor: User) -> Provider:
    """Change the organisation's name, contact, home town, place and travel radius; audited."""
    errors: dict[str, str] = {}
    name = (data.name or "").strip()
    if not NAME_MIN <= len(name) <= NAME_MAX:
        errors["name"] = _("Enter a name of %(low)s to %(high)s characters.", low=NAME_MIN, high=NAME_MAX)
    contact = (data.contact_name or "").strip()
    if provider.kind == ProviderKind.agency and not CONTACT_MIN <= len(contact) <= CONTACT_MAX:
        errors["contact_name"] = _("Enter the contact person's name (%(low)s to %(high)s characters).",
                                   low=CONTACT_MIN, high=CONTACT_MAX)
    town = db.session.scalar(sa.select(Town).where(Town.id == data.town_id, scoping.home_towns(provider))
                             ) if data.town_id else None
    if town is None:  # none, unknown or of another county (a grant never moves the home county)
        errors["town_id"] = _("Choose a town from the list.")
    if data.radius_km is None or not 0 <= data.radius_km <= MAX_RADIUS_KM:  # NaN fails too
        errors["radius_km"] = _("The travel radius is between 0 and %(n)s km.", n=int(MAX_RADIUS_KM))
    lat, lon = data.lat, data.lon
    if (lat is None) != (lon is None):
        errors["lat"] = _("Enter both latitude and longitude, or neither.")
    elif lat is not None and not (-90 <= lat <= 90 and -180 <= lon <= 180):  # NaN fails too
        errors["lat"] = _("Enter latitude and longitude in decimal degrees, e.g. 35.08 and 117.15.")
    elif town is not None and lat is not None and distance_km(lat, lon, town.lat, town.lon) > MAX_FROM_TOWN_KM:
        errors["lat"] = _("This place is more than %(n)s km from the town's centre; check the coordinates.",
                          n=int(MAX_FROM_TOWN_KM))
    if errors:
        raise ProfileInvalid(errors)
    if lat is None:
        lat, lon = ((provider.lat, provider.lon) if town.id == provider.town_id else (town.lat, town.lon))
    before = {"name": provider.name, "town_id": provider.town_id, "radius_km": provider.radius_km,
              "lat": provider.lat, "lon": provider.lon}
    provider.name, provider.town_id, provider.radius_km = name, town.id, round(data.radius_km, 1)
    provider.lat, provider.lon = round(lat, 6), round(lon, 6)
    if provider.agency is not None:
        if provider.agency.contact_name != contact:
            before["contact_name"] = provider.agency.contact_name
        provider.agency.contact_name = contact
    db.session.flush()
    after = {"name": provider.name, "town_id": provider.town_id, "radius_km": provider.radius_km,
             "lat": provider.lat, "lon": provider.lon}
    changed = sorted([k for k in after if after[k] != before[k]] + (["contact_name"] if "contact_name" in before
                                                                     else []))
    audit.record("provider_profile_updated", actor, "provider", provider.id, changed=changed)
    matching.invalidate()  # place and radius are part of every offer the engine sees
    return provider


class ProfileInvalid(ServiceError):
    """Refused profile or member input: one message per field (already translated)."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(next(iter(errors.values())), status=400, field=next(iter(errors)))
        self.errors = errors


# ---- social workers and cadres --------------------------------------------------------------------------------

@dataclass(frozen=True)
class MemberInput:
    """What the member form submits; username and password only when adding; phone None keeps the stored one."""

    name: str
    phone: str | None = None
    certificate_level: str | None = None
    username: str | None = None
    password: str | None = None


def members_query(provider: Provider, role: MemberRole) -> sa.Select:
    """The provider's social workers or cadres: active first, then by name."""
    return (sa.select(ProviderMember).where(ProviderMember.provider_id == provider.id, ProviderMember.role == role)
            .order_by(ProviderMember.active.desc(), ProviderMember.name, ProviderMember.id))


def get_member(member_id: int, provider_id: int | None, role: MemberRole) -> ProviderMember | None:
    """One of the provider's own members of a role, or None."""
    return db.session.scalar(sa.select(ProviderMember).where(
        ProviderMember.id == member_id, ProviderMember.provider_id == (provider_id or -1),
        ProviderMember.role == role))


def member_logins(member: ProviderMember) -> list[User]:
    """The logins of a member."""
    return list(db.session.scalars(sa.select(User).where(User.member_id == member.id).order_by(User.id)))


def _member_errors(role: MemberRole, data: MemberInput, adding: bool) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not MEMBER_NAME_MIN <= len((data.name or "").strip()) <= MEMBER_NAME_MAX:
        errors["name"] = _("Enter a name of %(low)s to %(high)s characters.", low=MEMBER_NAME_MIN,
                           high=MEMBER_NAME_MAX)
    if data.phone and not PHONE_RE.match(data.phone.strip()):
        errors["phone"] = _("Enter an 11-digit mobile number, or leave it empty.")
    if role == MemberRole.social_worker and data.certificate_level not in CERTIFICATE_LEVELS:
        errors["certificate_level"] = _("Choose a certificate level.")
    if adding:
        username = (data.username or "").strip()
        if not USERNAME_RE.match(username):
            errors["username"] = _("Use 3 to 60 letters, digits, dots, hyphens or underscores.")
        elif db.session.scalar(sa.select(User.id).where(User.username == username)):
            errors["username"] = _("This username is taken; choose another.")
        if len(data.password or "") < accounts.MIN_PASSWORD_LENGTH:
            errors["password"] = _("Use at least %(n)s characters.", n=accounts.MIN_PASSWORD_LENGTH)
    return errors


def _set_phone(member: ProviderMember, phone: str | None) -> None:
    phone = (phone or "").strip()
    member.phone_enc = crypto.encrypt(phone) if phone else None
    member.phone_masked = crypto.mask_phone(phone) if phone else None


def add_member(provider: Provider, role: MemberRole, data: MemberInput, actor: User) -> ProviderMember:
    """Add a social worker or cadre with their own login; audited (no personal data in the audit record)."""
    errors = _member_errors(role, data, adding=True)
    if errors:
        raise ProfileInvalid(errors)
    member = ProviderMember(provider_id=provider.id, role=role, name=data.name.strip(),
                            certificate_level=data.certificate_level if role == MemberRole.social_worker else None)
    _set_phone(member, data.phone)
    db.session.add(member)
    db.session.flush()
    # a concurrent sign-up of the same username fails on the UNIQUE constraint: the view reports it
    user = accounts.create_user(data.username.strip(), data.password, MEMBER_ROLES[role], member.name,
                                provider_id=provider.id, member_id=member.id)
    audit.record("member_added", actor, "provider_member", member.id, role=role.value, user_id=user.id)
    return member


def update_member(member: ProviderMember, data: MemberInput, actor: User) -> ProviderMember:
    """Change a member's name, phone and (social workers) certificate level; audited."""
    errors = _member_errors(MemberRole(member.role), data, adding=False)
    if errors:
        raise ProfileInvalid(errors)
    before = (member.name, member.phone_masked, member.certificate_level)
    member.name = data.name.strip()
    if data.phone is not None:
        _set_phone(member, data.phone)
    if member.role == MemberRole.social_worker:
        member.certificate_level = data.certificate_level
    for user in member_logins(member):
        user.display_name = member.name
    db.session.flush()
    changed = [k for k, old, new in zip(("name", "phone", "certificate_level"), before,
                                        (member.name, member.phone_masked, member.certificate_level), strict=True)
               if old != new]
    audit.record("member_updated", actor, "provider_member", member.id, changed=changed,
                 certificate_level=member.certificate_level)
    return member


@dataclass(frozen=True)
class OpenWork:
    """What a member still holds: live orders assigned to them and planned visits from now on."""

    orders: int
    visits: int


def open_work(member: ProviderMember, now: datetime) -> OpenWork:
    """The member's live orders and future planned visits."""
    orders = db.session.scalar(sa.select(sa.func.count(Order.id)).where(
        Order.assignee_id == member.id, Order.state.in_(LIVE_STATES)))
    planned = db.session.scalar(sa.select(sa.func.count(Visit.id)).where(
        Visit.assignee_id == member.id, Visit.status == VisitStatus.planned, Visit.starts_at >= now))
    return OpenWork(orders, planned)


def set_member_active(member: ProviderMember, active: bool, actor: User, now: datetime) -> OpenWork:
    """Deactivate (their logins stop working at once) or reactivate a member; returns the work they still hold."""
    done = db.session.execute(
        sa.update(ProviderMember).where(ProviderMember.id == member.id, ProviderMember.active.is_(not active))
        .values(active=active).execution_options(synchronize_session=False))
    db.session.refresh(member)
    if done.rowcount != 1:
        raise ServiceError(_("This person is already active.") if active else
                           _("This person is already deactivated."))
    for user in member_logins(member):
        user.active = active
        if not active:
            accounts.end_sessions(user)
    db.session.flush()
    work = open_work(member, now)
    audit.record("member_reactivated" if active else "member_deactivated", actor, "provider_member", member.id,
                 open_orders=work.orders, planned_visits=work.visits)
    return work


# ---- contracts ----------------------------------------------------------------------------------------------

def contracts_query(provider: Provider) -> sa.Select:
    """An agency's government-purchase contracts, latest period first (nothing for other providers)."""
    agency_id = provider.agency.id if provider.agency is not None else -1
    return sa.select(Contract).where(Contract.agency_id == agency_id).order_by(Contract.starts_on.desc(),
                                                                                Contract.id.desc())


# ---- paired households ------------------------------------------------------------------------------------------

def mask_name(name: str | None) -> str:
    """A person's name with all but the first character hidden, e.g. 张**."""
    name = (name or "").strip()
    return name[:1] + "*" * max(len(name) - 1, 1) if name else ""


def pairings_query(user: User) -> sa.Select:
    """The unit's active pairings (a cadre: those they visit), oldest pairing first."""
    query = sa.select(Pairing).where(Pairing.provider_id == (user.provider_id or -1), Pairing.ended_on.is_(None))
    if user.role == Role.cadre:
        query = query.where(Pairing.cadre_id == (user.member_id or -1))
    return query.order_by(Pairing.id)


def pairings_page_query(user: User) -> sa.Select:
    """`pairings_query` loading each household, its village and the cadre with the page (no query per row)."""
    return pairings_query(user).options(selectinload(Pairing.household).joinedload(Household.village),
                                        selectinload(Pairing.cadre))


def get_pairing(pairing_id: int, user: User) -> Pairing | None:
    """One active pairing in the user's scope, or None."""
    return db.session.scalar(pairings_query(user).where(Pairing.id == pairing_id))


def monthly_quota(provider: Provider) -> int:
    """The unit's monthly visits per paired household."""
    return provider.unit.monthly_visit_quota if provider.unit is not None else 0


@dataclass(frozen=True)
class PairedHousehold:
    """One paired household as a unit sees it this month (masked, no resident IDs)."""

    pairing: Pairing
    head: str
    village: str
    cadre: ProviderMember | None
    done: int
    planned: int
    quota: int

    @property
    def met(self) -> bool:
        """Whether this month's completed visits reach the quota."""
        return self.done >= self.quota


def paired_households(pairings: list[Pairing], quota: int, now: datetime) -> list[PairedHousehold]:
    """Each pairing's household (masked) with this month's completed and still-planned visits by the unit, and its
    quota (the pairing's own, else the unit's `quota`)."""
    by_provider: dict[int, list[int]] = {}
    for p in pairings:
        by_provider.setdefault(p.provider_id, []).append(p.household_id)
    done, planned = {}, {}
    for provider_id, household_ids in by_provider.items():
        done[provider_id] = quotas.visits_by_household(provider_id, household_ids, now)
        planned[provider_id] = quotas.visits_by_household(provider_id, household_ids, now,
                                                          (VisitStatus.planned, VisitStatus.checked_in))
    return [PairedHousehold(p, mask_name(p.household.head_name), p.household.village.name, p.cadre,
                            done[p.provider_id].get(p.household_id, 0),
                            planned[p.provider_id].get(p.household_id, 0),
                            quota if p.monthly_visit_quota is None else p.monthly_visit_quota) for p in pairings]


@dataclass(frozen=True)
class QuotaSummary:
    """A unit's compliance this month over the paired households in the user's scope."""

    households: int
    met: int
    quota: int

    @property
    def percent(self) -> int:
        """Households that got their quota of completed visits, in percent."""
        return round(100 * self.met / self.households) if self.households else 100


def quota_summary(user: User, now: datetime) -> QuotaSummary:
    """How many of the user's paired households got this month's quota of completed visits."""
    provider = db.session.get(Provider, user.provider_id)
    quota = monthly_quota(provider)
    household_ids = list(db.session.scalars(pairings_query(user).with_only_columns(Pairing.household_id)))
    done = quotas.visits_by_household(provider.id, household_ids, now)
    met = sum(1 for h in household_ids if done.get(h, 0) >= quota)
    return QuotaSummary(len(household_ids), met, quota)


def cadres_for(pairing: Pairing, user: User) -> list[ProviderMember]:
    """Who may be recorded as the visitor: a cadre themself, else the unit's active cadres."""
    if user.role == Role.cadre:
        member = db.session.get(ProviderMember, user.member_id) if user.member_id else None
        return [member] if member is not None and member.active else []
    return list(db.session.scalars(members_query(pairing_provider(pairing), MemberRole.cadre)
                                   .where(ProviderMember.active)))


def pairing_provider(pairing: Pairing) -> Provider:
    """The pairing's unit."""
    return db.session.get(Provider, pairing.provider_id)


def _free_start(assignee: visits.Assignee, now: datetime, exclude_id: int | None) -> datetime:
    """The first start after now, within the check-in hour, where the assignee is free for a recorded visit."""
    length = timedelta(minutes=QUOTA_RECORD_MINUTES)
    start = now + timedelta(seconds=1)
    while start <= now + visits.CHECKIN_EARLY:
        clash = visits.conflicts(assignee, start, start + length, exclude_id=exclude_id)
        if not clash:
            return start
        start = max(v.ends_at for v in clash)
    raise ServiceError(_("%(name)s has visits filling the next hour. Record this visit after them.",
                         name=assignee.name()))


def record_monthly_visit(pairing: Pairing, visitor_id: int | None, actor: User, now: datetime,
                         notes: str | None = None) -> Visit:
    """Record a visit made to a paired household today, through the standing order's visit flow.

    The month's planned visit of the same cadre (from the quota job) is moved to now and completed; otherwise a
    visit is planned now; then it is checked in and out. The visitor is the cadre user themself, else the chosen
    cadre, else the pairing's cadre; refuses an inactive or foreign cadre and a double submit.
    """
    user_is_cadre = actor.role == Role.cadre
    if user_is_cadre:
        visitor_id = actor.member_id
    visitor_id = visitor_id or pairing.cadre_id
    visitor = db.session.get(ProviderMember, visitor_id) if visitor_id else None
    if (visitor is None or visitor.provider_id != pairing.provider_id or visitor.role != MemberRole.cadre
            or not visitor.active or (user_is_cadre and pairing.cadre_id != visitor.id)):
        raise ServiceError(_("Choose one of your active cadres as the visitor."), status=400, field="cadre_id")
    if notes is not None and len(notes.strip()) > 2000:
        raise ServiceError(_("Notes are limited to 2,000 characters."), status=400, field="notes")
    recent = db.session.scalar(
        sa.select(Visit.checkout_at).join(Order, Order.id == Visit.order_id).join(ServiceItem)
        .where(Order.provider_id == pairing.provider_id, ServiceItem.household_id == pairing.household_id,
               Visit.status == VisitStatus.completed, Visit.checkout_at > now - RECORD_AGAIN_AFTER)
        .order_by(Visit.checkout_at.desc()).limit(1))
    if recent is not None:
        raise ServiceError(_("A visit to this household was recorded at %(when)s already.",
                             when=to_local(recent).strftime("%H:%M")))
    order = quotas.standing_order(pairing, now)
    assignee = visits.Assignee(member_id=visitor.id)
    month_start, month_end = month_bounds(now)
    planned = db.session.scalar(
        sa.select(Visit).where(Visit.order_id == order.id, Visit.assignee_id == visitor.id,
                               Visit.status == VisitStatus.planned, Visit.starts_at >= month_start,
                               Visit.starts_at < month_end)
        .order_by(Visit.starts_at).limit(1))
    if planned is not None and planned.starts_at - visits.CHECKIN_EARLY <= now:
        visit = planned  # its check-in is open already
    elif planned is not None:
        visit = visits.reschedule(planned, _free_start(assignee, now, planned.id), QUOTA_RECORD_MINUTES,
                                  RECORD_REASON, actor, now)
    else:
        visit = visits.plan_visit(order, assignee, _free_start(assignee, now, None), QUOTA_RECORD_MINUTES, actor,
                                  now)
    visits.check_in(visit, actor, now)
    visits.check_out(visit, actor, now, notes=notes)
    audit.record("pairing_visit_recorded", actor, "pairing", pairing.id, visit_id=visit.id, order_id=order.id)
    return visit
