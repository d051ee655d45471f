"""Pairing units: register and edit, with their type, superior body and default monthly visit quota."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from socialforce.platform import scoping, uscc
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    PairingUnit,
    Provider,
    ProviderKind,
    ProviderStatus,
    User,
)
from socialforce.platform.services import audit, matching
from socialforce.platform.services.organisations.common import (
    CREDIT_CODE_ERRORS,
    DEPARTMENT_MAX,
    NAME_MAX,
    QUOTA_MAX,
    QUOTA_MIN,
    UNIT_RADIUS_KM,
    UNIT_TYPES,
    OrganisationInvalid,
    Place,
    _apply_place,
    _changed,
    _check_name,
    _check_place,
    _new_provider,
    _snapshot,
    require_city_staff,
)


@dataclass(frozen=True)
class UnitInput:
    """What the pairing-unit form submits."""

    name: str
    unit_type: str
    department: str
    monthly_visit_quota: int | None
    place: Place
    credit_code: str | None = None  # None keeps the stored code (the pages do not edit it; the import sets it)


def units_query(user: User, q: str | None = None, unit_type: str | None = None, town_id: int | None = None,
                status: str | None = None) -> sa.Select:
    """Pairing units (their providers) in the user's scope by name or department, type, home town and status, by
    name."""
    query = (sa.select(Provider).join(PairingUnit, PairingUnit.provider_id == Provider.id)
             .where(scoping.provider_filter(user))
             .options(selectinload(Provider.unit), selectinload(Provider.town)))
    text = (q or "").strip()[:NAME_MAX]
    if text:
        query = query.where(sa.or_(Provider.name.icontains(text, autoescape=True),
                                   PairingUnit.department.icontains(text, autoescape=True)))
    if unit_type in UNIT_TYPES:
        query = query.where(PairingUnit.unit_type == unit_type)
    if town_id:
        query = query.where(Provider.town_id == town_id)
    if status in ProviderStatus.__members__:
        query = query.where(Provider.status == ProviderStatus(status))
    return query.order_by(Provider.name, Provider.id)


def get_unit(unit_id: int, user: User) -> PairingUnit | None:
    """A pairing unit by its id, if in the user's scope."""
    return db.session.scalar(sa.select(PairingUnit).join(Provider, Provider.id == PairingUnit.provider_id)
                             .where(PairingUnit.id == unit_id, scoping.provider_filter(user)))


def units_by_credit_code(codes: set[str]) -> dict[str, PairingUnit]:
    """The pairing units holding these unified social credit codes, by code."""
    if not codes:
        return {}
    rows = db.session.scalars(sa.select(PairingUnit).where(PairingUnit.credit_code.in_(sorted(codes)))
                              .options(selectinload(PairingUnit.provider).selectinload(Provider.towns_covered)))
    return {unit.credit_code: unit for unit in rows}


def units_without_code(names: set[str]) -> dict[str, PairingUnit]:
    """Pairing units registered without a credit code, by name (an import may give them their code)."""
    if not names:
        return {}
    rows = db.session.scalars(sa.select(PairingUnit).join(Provider, Provider.id == PairingUnit.provider_id)
                              .where(PairingUnit.credit_code.is_(None), Provider.name.in_(sorted(names)))
                              .order_by(PairingUnit.id))
    found: dict[str, PairingUnit] = {}
    for unit in rows:
        found.setdefault(unit.provider.name, unit)
    return found


def _unit_errors(data: UnitInput, unit: PairingUnit | None = None) -> tuple[dict[str, str], dict]:
    errors: dict[str, str] = {}
    clean: dict = {"name": _check_name(data.name, errors)}
    clean["credit_code"] = unit.credit_code if unit is not None else None
    if data.credit_code is not None:
        try:
            clean["credit_code"] = uscc.normalize(data.credit_code)
        except uscc.InvalidCreditCode as e:
            errors["credit_code"] = str(CREDIT_CODE_ERRORS[e.reason])
        else:
            holder = db.session.scalar(sa.select(Provider.name).join(PairingUnit, PairingUnit.provider_id == Provider.id)
                                       .where(PairingUnit.credit_code == clean["credit_code"],
                                              PairingUnit.id != (unit.id if unit is not None else -1)))
            if holder is not None:
                errors["credit_code"] = _("Pairing unit %(name)s is already registered with this unified social "
                                          "credit code.", name=holder)
    if data.unit_type not in UNIT_TYPES:
        errors["unit_type"] = _("Choose the kind of unit.")
    department = (data.department or "").strip()
    if len(department) > DEPARTMENT_MAX:
        errors["department"] = _("At most %(n)s characters.", n=DEPARTMENT_MAX)
    clean["department"] = department or None
    quota = data.monthly_visit_quota
    if quota is None or not QUOTA_MIN <= quota <= QUOTA_MAX:
        errors["monthly_visit_quota"] = _("Enter a whole number of visits from %(low)s to %(high)s.",
                                          low=QUOTA_MIN, high=QUOTA_MAX)
    return errors, clean


def create_unit(data: UnitInput, actor: User, ip: str | None = None) -> PairingUnit:
    """Register a pairing unit (approved) with its type, department, towns and default quota; audited."""
    require_city_staff(actor)
    errors, clean = _unit_errors(data)
    town, covered = _check_place(data.place, errors, actor)
    if errors:
        raise OrganisationInvalid(errors)
    provider = _new_provider(ProviderKind.unit, clean["name"], UNIT_RADIUS_KM)
    _apply_place(provider, town, covered, data.place)
    db.session.add(provider)
    db.session.flush()
    unit = PairingUnit(provider_id=provider.id, unit_type=data.unit_type, department=clean["department"],
                       monthly_visit_quota=data.monthly_visit_quota, credit_code=clean["credit_code"])
    db.session.add(unit)
    db.session.flush()
    audit.record("unit_created", actor, "provider", provider.id, ip=ip, unit_id=unit.id, unit_type=unit.unit_type,
                 towns=[t.id for t in covered])
    matching.invalidate()
    return unit


def update_unit(unit: PairingUnit, data: UnitInput, actor: User, ip: str | None = None) -> PairingUnit:
    """Change a pairing unit's name, type, department, towns, place and default quota; audited."""
    require_city_staff(actor)
    errors, clean = _unit_errors(data, unit)
    town, covered = _check_place(data.place, errors, actor)
    if errors:
        raise OrganisationInvalid(errors)
    provider = unit.provider
    keys = ("unit_type", "department", "monthly_visit_quota", "credit_code")
    before = _snapshot(provider, {k: getattr(unit, k) for k in keys})
    provider.name = clean["name"]
    _apply_place(provider, town, covered, data.place)
    unit.unit_type, unit.department = data.unit_type, clean["department"]
    unit.monthly_visit_quota = data.monthly_visit_quota
    unit.credit_code = clean["credit_code"]
    db.session.flush()
    audit.record("unit_updated", actor, "provider", provider.id, ip=ip, unit_id=unit.id,
                 changed=_changed(before, _snapshot(provider, {k: getattr(unit, k) for k in keys})))
    matching.invalidate()
    return unit


# ---------------------------------------------------------------- contracts
