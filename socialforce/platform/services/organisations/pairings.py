"""Pairings of units and households: one active per unit and household, town-scoped, ended never deleted."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from socialforce.platform import scoping
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    AuditLog,
    Household,
    MemberRole,
    Pairing,
    Provider,
    ProviderKind,
    ProviderMember,
    ProviderStatus,
    User,
)
from socialforce.platform.scoping import household_filter
from socialforce.platform.services import ServiceError, audit, matching
from socialforce.platform.services.organisations.common import (
    QUOTA_MAX,
    QUOTA_MIN,
    OrganisationInvalid,
    _changed,
)


@dataclass(frozen=True)
class PairingInput:
    """What the pairing form submits (household by the bureau's household number; empty quota: the unit's)."""

    household_code: str
    unit_provider_id: int | None
    cadre_id: int | None
    monthly_visit_quota: int | None
    quota_given: bool
    since: date | None


def pairings_query(user: User, unit_provider_id: int | None = None, town_id: int | None = None,
                   state: str | None = None, q: str | None = None) -> sa.Select:
    """Pairings of households in the user's scope, filtered by unit, town, state (active / ended) and household
    number or head's name; active first, newest first."""
    query = (sa.select(Pairing).join(Household, Household.id == Pairing.household_id)
             .where(household_filter(user))
             .options(selectinload(Pairing.household).selectinload(Household.town), selectinload(Pairing.cadre)))
    if unit_provider_id:
        query = query.where(Pairing.provider_id == unit_provider_id)
    if town_id:
        query = query.where(Household.town_id == town_id)
    if state == "active":
        query = query.where(Pairing.ended_on.is_(None))
    elif state == "ended":
        query = query.where(Pairing.ended_on.is_not(None))
    text = (q or "").strip()[:40]
    if text:
        query = query.where(sa.or_(Household.code == text, Household.head_name.icontains(text, autoescape=True)))
    return query.order_by(Pairing.ended_on.is_not(None), Pairing.since.desc(), Pairing.id.desc())


def get_pairing(pairing_id: int, user: User) -> Pairing | None:
    """A pairing whose household is in the user's scope, or None (the view answers 404)."""
    return db.session.scalar(sa.select(Pairing).join(Household, Household.id == Pairing.household_id)
                             .where(Pairing.id == pairing_id, household_filter(user)))


def household_code(household_id: int | None, user: User) -> str:
    """The household number of a household in the user's scope ('' for none), to prefill the pairing form."""
    if not household_id:
        return ""
    return db.session.scalar(sa.select(Household.code).where(Household.id == household_id,
                                                             household_filter(user))) or ""


def provider_names(provider_ids: set[int]) -> dict[int, str]:
    """Names of providers by id."""
    if not provider_ids:
        return {}
    return dict(db.session.execute(sa.select(Provider.id, Provider.name).where(Provider.id.in_(provider_ids)))
                .tuples().all())


def unit_choices(user: User) -> list[Provider]:
    """Approved pairing units in the user's scope, by name (what a pairing may be made with)."""
    return list(db.session.scalars(sa.select(Provider).where(Provider.kind == ProviderKind.unit,
                                                             Provider.status == ProviderStatus.approved,
                                                             scoping.serving_county(user.county_id))
                                   .order_by(Provider.name, Provider.id)))


def cadre_choices(provider_ids: list[int]) -> dict[int, list[ProviderMember]]:
    """The active cadres of each unit, by name."""
    rows = db.session.scalars(sa.select(ProviderMember).where(
        ProviderMember.provider_id.in_(provider_ids), ProviderMember.role == MemberRole.cadre,
        ProviderMember.active.is_(True)).order_by(ProviderMember.name, ProviderMember.id))
    found: dict[int, list[ProviderMember]] = {}
    for member in rows:
        found.setdefault(member.provider_id, []).append(member)
    return found


def _check_quota(data_quota: int | None, given: bool, errors: dict[str, str]) -> None:
    if given and (data_quota is None or not QUOTA_MIN <= data_quota <= QUOTA_MAX):
        errors["monthly_visit_quota"] = _("Enter a whole number of visits from %(low)s to %(high)s, or leave it "
                                          "empty for the unit's own quota.", low=QUOTA_MIN, high=QUOTA_MAX)


def _check_cadre(cadre_id: int | None, provider_id: int | None, errors: dict[str, str]) -> None:
    if cadre_id is None or provider_id is None:
        return
    cadre = db.session.get(ProviderMember, cadre_id) if cadre_id > 0 else None
    if cadre is None or cadre.provider_id != provider_id or cadre.role != MemberRole.cadre or not cadre.active:
        errors["cadre_id"] = _("Choose an active cadre of this unit, or none.")


def active_pairing(provider_id: int, household_id: int) -> Pairing | None:
    """The unit's pairing with the household that has not ended, if any."""
    return db.session.scalar(sa.select(Pairing).where(Pairing.provider_id == provider_id,
                                                      Pairing.household_id == household_id,
                                                      Pairing.ended_on.is_(None)))


def active_pairings(pairs: set[tuple[int, int]]) -> dict[tuple[int, int], Pairing]:
    """The pairings that have not ended among these (unit provider id, household id) pairs."""
    found: dict[tuple[int, int], Pairing] = {}
    units = sorted({unit for unit, _household in pairs})
    for start in range(0, len(units), 500):
        rows = db.session.scalars(sa.select(Pairing).where(Pairing.provider_id.in_(units[start:start + 500]),
                                                           Pairing.ended_on.is_(None)))
        found.update({(p.provider_id, p.household_id): p for p in rows if (p.provider_id, p.household_id) in pairs})
    return found


def already_paired_message(unit_name: str, since: date) -> str:
    """Why a second active pairing of one unit and household is refused."""
    return _("This household is already paired with %(unit)s (since %(since)s). End that pairing first, or edit "
             "it.", unit=unit_name, since=since.isoformat())


def create_pairing(data: PairingInput, actor: User, today: date, ip: str | None = None) -> Pairing:
    """Pair a household in the actor's scope with an approved unit (optionally a named cadre and its own quota);
    refused if the unit already holds an active pairing with it; audited."""
    errors: dict[str, str] = {}
    code = (data.household_code or "").strip()
    household = db.session.scalar(sa.select(Household).where(Household.code == code, household_filter(actor))) \
        if code and len(code) <= 30 else None
    if household is None:
        errors["household_code"] = _("No household with this number in your area.")
    unit = db.session.scalar(sa.select(Provider).where(
        Provider.id == (data.unit_provider_id or -1), Provider.kind == ProviderKind.unit,
        scoping.serving_county(household.town.county_id if household is not None else actor.county_id)))
    if unit is None:
        errors["unit_provider_id"] = _("Choose a pairing unit from the list.")
    elif unit.status != ProviderStatus.approved:
        errors["unit_provider_id"] = _("This unit is not approved (pending or suspended): it cannot take new "
                                       "pairings.")
    _check_cadre(data.cadre_id, unit.id if unit is not None else None, errors)
    _check_quota(data.monthly_visit_quota, data.quota_given, errors)
    if data.since is None:
        errors["since"] = _("Enter the first day of the pairing as YYYY-MM-DD.")
    elif data.since > today:
        errors["since"] = _("A pairing is recorded when it starts: the first day cannot be in the future.")
    if household is not None and unit is not None and "unit_provider_id" not in errors:
        current = active_pairing(unit.id, household.id)
        if current is not None:
            errors["household_code"] = already_paired_message(unit.name, current.since)
    if errors:
        raise OrganisationInvalid(errors)
    pairing = Pairing(provider_id=unit.id, household_id=household.id, cadre_id=data.cadre_id or None,
                      since=data.since, monthly_visit_quota=data.monthly_visit_quota if data.quota_given else None)
    db.session.add(pairing)
    db.session.flush()  # a concurrent pairing of the same unit and household fails on uq_pairings_active
    audit.record("pairing_created", actor, "pairing", pairing.id, ip=ip, provider_id=unit.id,
                 household_id=household.id, cadre_id=pairing.cadre_id, since=pairing.since.isoformat(),
                 monthly_visit_quota=pairing.monthly_visit_quota)
    matching.invalidate()  # pairing is a ranking feature
    return pairing


@dataclass(frozen=True)
class NewPairing:
    """One pairing an import registers, already checked (unit provider id, household id, first day, own quota)."""

    provider_id: int
    household_id: int
    since: date
    monthly_visit_quota: int | None


def create_pairings(rows: list[NewPairing], actor: User, chunk: int = 1000) -> int:
    """Insert many checked pairings at once (the import), each with its own `pairing_created` audit row as on the
    pages; the partial unique index still refuses a second active pairing. Returns how many were written."""
    table, log = Pairing.__table__, AuditLog.__table__
    for start in range(0, len(rows), chunk):
        part = rows[start:start + chunk]
        ids = db.session.execute(
            sa.insert(table).returning(table.c.id, sort_by_parameter_order=True),
            [{"provider_id": r.provider_id, "household_id": r.household_id, "since": r.since,
              "monthly_visit_quota": r.monthly_visit_quota, "cadre_id": None} for r in part]).scalars().all()
        db.session.execute(sa.insert(log), [
            {"action": "pairing_created", "user_id": actor.id, "object_type": "pairing", "object_id": pairing_id,
             "ip": None, "detail": {"provider_id": r.provider_id, "household_id": r.household_id, "cadre_id": None,
                                    "since": r.since.isoformat(), "monthly_visit_quota": r.monthly_visit_quota}}
            for pairing_id, r in zip(ids, part, strict=True)])
    if rows:
        matching.invalidate()  # pairing is a ranking feature
    return len(rows)


def update_pairing(pairing: Pairing, cadre_id: int | None, quota: int | None, quota_given: bool, actor: User,
                   ip: str | None = None) -> Pairing:
    """Change an active pairing's cadre and its own monthly quota (empty: the unit's); audited."""
    if pairing.ended_on is not None:
        raise ServiceError(_("This pairing has ended; it can no longer be changed."))
    errors: dict[str, str] = {}
    _check_cadre(cadre_id, pairing.provider_id, errors)
    _check_quota(quota, quota_given, errors)
    if errors:
        raise OrganisationInvalid(errors)
    before = {"cadre_id": pairing.cadre_id, "monthly_visit_quota": pairing.monthly_visit_quota}
    pairing.cadre_id = cadre_id or None
    pairing.monthly_visit_quota = quota if quota_given else None
    db.session.flush()
    after = {"cadre_id": pairing.cadre_id, "monthly_visit_quota": pairing.monthly_visit_quota}
    audit.record("pairing_updated", actor, "pairing", pairing.id, ip=ip, changed=_changed(before, after), **after)
    return pairing


def end_pairing(pairing: Pairing, ended_on: date | None, actor: User, today: date, ip: str | None = None) -> Pairing:
    """End a pairing on a day (from its first day to today): sets `ended_on`, never deletes; of two staff ending
    it at once one succeeds; audited."""
    errors: dict[str, str] = {}
    if ended_on is None:
        errors["ended_on"] = _("Enter the last day of the pairing as YYYY-MM-DD.")
    elif ended_on > today:
        errors["ended_on"] = _("The last day cannot be in the future: end the pairing on the day it ends.")
    elif ended_on < pairing.since:
        errors["ended_on"] = _("The last day cannot be before the pairing began (%(since)s).",
                               since=pairing.since.isoformat())
    if errors:
        raise OrganisationInvalid(errors)
    done = db.session.execute(sa.update(Pairing).where(Pairing.id == pairing.id, Pairing.ended_on.is_(None))
                              .values(ended_on=ended_on).execution_options(synchronize_session=False))
    if done.rowcount != 1:
        raise ServiceError(_("This pairing has already ended; nothing was changed."))
    db.session.refresh(pairing)
    audit.record("pairing_ended", actor, "pairing", pairing.id, ip=ip, provider_id=pairing.provider_id,
                 household_id=pairing.household_id, ended_on=ended_on.isoformat())
    matching.invalidate()
    return pairing


def pairing_unit_name(pairing: Pairing) -> str:
    """The name of a pairing's unit (for the confirmation of ending it)."""
    return db.session.scalar(sa.select(Provider.name).where(Provider.id == pairing.provider_id)) or ""
