"""Pairing units: register and edit, with their type, superior body and default monthly visit quota."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

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


def units_query(q: str | None = None, unit_type: str | None = None, town_id: int | None = None,
                status: str | None = None) -> sa.Select:
    """Pairing units (their providers) by name or department, type, home town and status, by name."""
    query = (sa.select(Provider).join(PairingUnit, PairingUnit.provider_id == Provider.id)
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


def get_unit(unit_id: int) -> PairingUnit | None:
    """A pairing unit by its id (city staff reach every unit)."""
    return db.session.get(PairingUnit, unit_id)


def _unit_errors(data: UnitInput) -> tuple[dict[str, str], dict]:
    errors: dict[str, str] = {}
    clean: dict = {"name": _check_name(data.name, errors)}
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
    town, covered = _check_place(data.place, errors)
    if errors:
        raise OrganisationInvalid(errors)
    provider = _new_provider(ProviderKind.unit, clean["name"], UNIT_RADIUS_KM)
    _apply_place(provider, town, covered, data.place)
    db.session.add(provider)
    db.session.flush()
    unit = PairingUnit(provider_id=provider.id, unit_type=data.unit_type, department=clean["department"],
                       monthly_visit_quota=data.monthly_visit_quota)
    db.session.add(unit)
    db.session.flush()
    audit.record("unit_created", actor, "provider", provider.id, ip=ip, unit_id=unit.id, unit_type=unit.unit_type,
                 towns=[t.id for t in covered])
    matching.invalidate()
    return unit


def update_unit(unit: PairingUnit, data: UnitInput, actor: User, ip: str | None = None) -> PairingUnit:
    """Change a pairing unit's name, type, department, towns, place and default quota; audited."""
    require_city_staff(actor)
    errors, clean = _unit_errors(data)
    town, covered = _check_place(data.place, errors)
    if errors:
        raise OrganisationInvalid(errors)
    provider = unit.provider
    keys = ("unit_type", "department", "monthly_visit_quota")
    before = _snapshot(provider, {k: getattr(unit, k) for k in keys})
    provider.name = clean["name"]
    _apply_place(provider, town, covered, data.place)
    unit.unit_type, unit.department = data.unit_type, clean["department"]
    unit.monthly_visit_quota = data.monthly_visit_quota
    db.session.flush()
    audit.record("unit_updated", actor, "provider", provider.id, ip=ip, unit_id=unit.id,
                 changed=_changed(before, _snapshot(provider, {k: getattr(unit, k) for k in keys})))
    matching.invalidate()
    return unit


# ---------------------------------------------------------------- contracts
