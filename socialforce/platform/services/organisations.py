"""Organisations through pages: city staff register and edit social-work agencies and pairing units and the
agencies' government-purchase contracts; town staff (and city staff) manage the pairings of their households.

Every rule is here; the staff views only parse, call, commit and render.

- An organisation is one `providers` row (kind, name, home town, place, status) with its `agencies` or
  `pairing_units` row and the towns it covers (`provider_towns`). Staff created it, so it starts approved and is
  matched like any other once it publishes an offer (services/matching.py reads approved providers).
- Agencies: the unified social credit code (GB 32100-2015, `platform/uscc.py`) and the licence number are unique;
  a duplicate is refused with a message on its field. The contact phone is encrypted and shown masked only.
- Contracts (政府购买服务): budget in yuan (stored in cents), purchased hours, period and service categories.
  Two contracts of one agency may not overlap in time for a shared category (the refusal names both). Hours used
  are charged by dispatch and never edited here; purchased hours may not go below them (a conditional UPDATE, so
  a charge landing at the same moment cannot slip under). Contract writes of one agency are serialised by
  touching the agency's row first, so two overlapping contracts saved at once cannot both pass the check.
- Pairings (结对): a unit holds at most one pairing with a household that has not ended (a partial unique index
  backs the check); ending sets `ended_on`, never deletes; the pairing's own monthly quota overrides the unit's.
  Staff reach only the pairings of households in their scope (town staff: their town).
- Every change writes one audit row (no personal data: the phone never enters `detail`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload

from socialforce.matching.geo import distance_km
from socialforce.platform import crypto, uscc
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    Agency,
    Contract,
    Household,
    MemberRole,
    Pairing,
    PairingUnit,
    Provider,
    ProviderKind,
    ProviderMember,
    ProviderStatus,
    Role,
    ServiceCategory,
    Town,
    User,
)
from socialforce.platform.scoping import household_filter
from socialforce.platform.services import ServiceError, audit, matching
from socialforce.platform.services.provider_profiles import MAX_FROM_TOWN_KM, ProfileInvalid

NAME_MIN, NAME_MAX = 2, 100
CONTACT_MIN, CONTACT_MAX = 2, 40
LICENCE_MIN, LICENCE_MAX = 4, 40
DEPARTMENT_MAX = 100
CODE_MIN, CODE_MAX = 2, 40
TITLE_MIN, TITLE_MAX = 2, 200
QUOTA_MIN, QUOTA_MAX = 1, 31
MAX_BUDGET_YUAN = Decimal("20000000")  # 2e9 cents: within an integer column
MAX_HOURS = 1_000_000.0
AGENCY_RADIUS_KM, UNIT_RADIUS_KM = 10.0, 5.0  # travel radius of a new organisation; it edits its own later
PHONE_RE = re.compile(r"^(?:1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")  # mobile, or landline with area code
UNIT_TYPES = {"department": _l("Government department"), "enterprise": _l("Enterprise"),
              "institution": _l("Public institution"), "group": _l("Social group"),
              "party": _l("Grassroots party organisation")}
CREDIT_CODE_ERRORS = {
    "length": _l("A unified social credit code has 18 characters."),
    "characters": _l("A unified social credit code uses digits and capital letters except I, O, S, V and Z."),
    "division": _l("Characters 3 to 8 of the code are the administrative division: six digits."),
    "check_character": _l("The last character (the check character) does not match: check the code for a typo."),
}


class OrganisationInvalid(ProfileInvalid):
    """Refused organisation, contract or pairing input: one message per field (already translated)."""


def require_city_staff(actor: User) -> None:
    """Agencies, units and contracts are the city bureau's register: refuse anyone else (403)."""
    if actor.role != Role.city_staff:
        raise ServiceError(_("Only city civil-affairs staff manage agencies, pairing units and contracts."),
                           status=403)


# ---------------------------------------------------------------- shared checks
@dataclass(frozen=True)
class Place:
    """Home town, covered towns and an optional exact place (None: the home town's centre)."""

    town_id: int | None
    town_ids: tuple[int, ...]
    lat: float | None = None
    lon: float | None = None


def _check_name(name: str, errors: dict[str, str]) -> str:
    name = (name or "").strip()
    if not NAME_MIN <= len(name) <= NAME_MAX:
        errors["name"] = _("Enter a name of %(low)s to %(high)s characters.", low=NAME_MIN, high=NAME_MAX)
    return name


def _check_place(place: Place, errors: dict[str, str]) -> tuple[Town | None, list[Town]]:
    town = db.session.get(Town, place.town_id) if place.town_id and place.town_id > 0 else None
    if town is None:
        errors["town_id"] = _("Choose a town from the list.")
    wanted = set(place.town_ids)
    covered = list(db.session.scalars(sa.select(Town).where(Town.id.in_(wanted)).order_by(Town.id))) if wanted else []
    if not covered or len(covered) != len(wanted):
        errors["town_ids"] = _("Tick at least one town it covers (only towns from the list).")
    lat, lon = place.lat, place.lon
    if (lat is None) != (lon is None):
        errors["lat"] = _("Enter both latitude and longitude, or neither.")
    elif lat is not None and not (-90 <= lat <= 90 and -180 <= lon <= 180):  # NaN fails too
        errors["lat"] = _("Enter latitude and longitude in decimal degrees, e.g. 35.08 and 117.15.")
    elif town is not None and lat is not None and distance_km(lat, lon, town.lat, town.lon) > MAX_FROM_TOWN_KM:
        errors["lat"] = _("This place is more than %(n)s km from the town's centre; check the coordinates.",
                          n=int(MAX_FROM_TOWN_KM))
    return town, covered


def _apply_place(provider: Provider, town: Town, covered: list[Town], place: Place) -> None:
    if place.lat is not None:
        provider.lat, provider.lon = round(place.lat, 6), round(place.lon, 6)
    elif provider.id is None or provider.town_id != town.id:
        provider.lat, provider.lon = town.lat, town.lon  # the town's centre until staff know better
    provider.town_id = town.id
    provider.towns_covered = covered


def _new_provider(kind: ProviderKind, name: str, radius_km: float) -> Provider:
    provider = Provider(kind=kind, name=name, status=ProviderStatus.approved, radius_km=radius_km)
    return provider


def _snapshot(provider: Provider, extra: dict) -> dict:
    return {"name": provider.name, "town_id": provider.town_id, "lat": provider.lat, "lon": provider.lon,
            "towns": [t.id for t in provider.towns_covered], **extra}


def _changed(before: dict, after: dict) -> list[str]:
    return sorted(k for k in after if before.get(k) != after[k])


# ---------------------------------------------------------------- agencies
@dataclass(frozen=True)
class AgencyInput:
    """What the agency form submits; `contact_phone` None keeps the stored phone (editing)."""

    name: str
    credit_code: str
    licence_no: str
    contact_name: str
    contact_phone: str | None
    place: Place


def agencies_query(q: str | None = None, town_id: int | None = None, status: str | None = None) -> sa.Select:
    """Agencies (their providers) whose name, credit code or licence contains `q`, of a home town and status,
    by name."""
    query = (sa.select(Provider).join(Agency, Agency.provider_id == Provider.id)
             .options(selectinload(Provider.agency), selectinload(Provider.town)))
    text = (q or "").strip()[:NAME_MAX]
    if text:
        code = uscc.canonical(text)
        query = query.where(sa.or_(Provider.name.icontains(text, autoescape=True),
                                   Agency.credit_code.contains(code, autoescape=True),
                                   Agency.licence_no.icontains(text, autoescape=True)))
    if town_id:
        query = query.where(Provider.town_id == town_id)
    if status in ProviderStatus.__members__:
        query = query.where(Provider.status == ProviderStatus(status))
    return query.order_by(Provider.name, Provider.id)


def get_agency(agency_id: int) -> Agency | None:
    """An agency by its id (city staff reach every agency)."""
    return db.session.get(Agency, agency_id)


def _agency_errors(data: AgencyInput, agency: Agency | None) -> tuple[dict[str, str], dict]:
    errors: dict[str, str] = {}
    clean: dict = {"name": _check_name(data.name, errors)}
    try:
        clean["credit_code"] = uscc.normalize(data.credit_code)
    except uscc.InvalidCreditCode as e:
        errors["credit_code"] = str(CREDIT_CODE_ERRORS[e.reason])
    licence = (data.licence_no or "").strip()
    if not LICENCE_MIN <= len(licence) <= LICENCE_MAX:
        errors["licence_no"] = _("Enter the registration licence number (%(low)s to %(high)s characters).",
                                 low=LICENCE_MIN, high=LICENCE_MAX)
    clean["licence_no"] = licence
    contact = (data.contact_name or "").strip()
    if not CONTACT_MIN <= len(contact) <= CONTACT_MAX:
        errors["contact_name"] = _("Enter the contact person's name (%(low)s to %(high)s characters).",
                                   low=CONTACT_MIN, high=CONTACT_MAX)
    clean["contact_name"] = contact
    phone = data.contact_phone.strip() if data.contact_phone is not None else None
    if phone is None and agency is None:
        phone = ""
    if phone is not None and not PHONE_RE.match(phone):
        errors["contact_phone"] = _("Enter the contact's mobile number (11 digits) or a landline with its area "
                                    "code, e.g. 0632-5512345.")
    clean["contact_phone"] = phone
    errors.update(duplicate_errors(clean.get("credit_code"), licence, agency))
    return errors, clean


def duplicate_errors(credit_code: str | None, licence_no: str | None, agency: Agency | None = None) -> dict[str, str]:
    """Field messages for a credit code or licence number another agency already holds."""
    errors: dict[str, str] = {}
    other = Agency.id != (agency.id if agency is not None else -1)
    for field, column, value in (("credit_code", Agency.credit_code, credit_code),
                                 ("licence_no", Agency.licence_no, licence_no)):
        if not value:
            continue
        holder = db.session.scalar(sa.select(Provider.name).join(Agency, Agency.provider_id == Provider.id)
                                   .where(column == value, other))
        if holder is not None:
            errors[field] = (_("Agency %(name)s is already registered with this unified social credit code.",
                               name=holder) if field == "credit_code" else
                             _("Agency %(name)s is already registered with this licence number.", name=holder))
    return errors


def create_agency(data: AgencyInput, actor: User, ip: str | None = None) -> Agency:
    """Register a social-work agency (approved: staff created it) with its towns and contact; audited, flushes."""
    require_city_staff(actor)
    errors, clean = _agency_errors(data, None)
    town, covered = _check_place(data.place, errors)
    if errors:
        raise OrganisationInvalid(errors)
    provider = _new_provider(ProviderKind.agency, clean["name"], AGENCY_RADIUS_KM)
    _apply_place(provider, town, covered, data.place)
    db.session.add(provider)
    db.session.flush()
    agency = Agency(provider_id=provider.id, credit_code=clean["credit_code"], licence_no=clean["licence_no"],
                    contact_name=clean["contact_name"])
    _set_contact_phone(agency, clean["contact_phone"])
    db.session.add(agency)
    db.session.flush()  # a duplicate registered a moment ago fails here: the view reports `duplicate_errors`
    audit.record("agency_created", actor, "provider", provider.id, ip=ip, agency_id=agency.id,
                 credit_code=agency.credit_code, towns=[t.id for t in covered])
    matching.invalidate()
    return agency


def update_agency(agency: Agency, data: AgencyInput, actor: User, ip: str | None = None) -> Agency:
    """Change an agency's registration, contact, towns and place; audited with the names of the changed fields."""
    require_city_staff(actor)
    errors, clean = _agency_errors(data, agency)
    town, covered = _check_place(data.place, errors)
    if errors:
        raise OrganisationInvalid(errors)
    provider = agency.provider
    keys = ("credit_code", "licence_no", "contact_name", "contact_phone_masked")
    before = _snapshot(provider, {k: getattr(agency, k) for k in keys})
    provider.name = clean["name"]
    _apply_place(provider, town, covered, data.place)
    agency.credit_code, agency.licence_no = clean["credit_code"], clean["licence_no"]
    agency.contact_name = clean["contact_name"]
    if clean["contact_phone"] is not None:
        _set_contact_phone(agency, clean["contact_phone"])
    db.session.flush()
    changed = _changed(before, _snapshot(provider, {k: getattr(agency, k) for k in keys}))
    audit.record("agency_updated", actor, "provider", provider.id, ip=ip, agency_id=agency.id,
                 changed=[c.replace("_masked", "") for c in changed])
    matching.invalidate()  # place and towns are part of what the engine sees
    return agency


def _set_contact_phone(agency: Agency, phone: str) -> None:
    agency.contact_phone_enc = crypto.encrypt(phone) if phone else None
    agency.contact_phone_masked = crypto.mask_phone(phone) if phone else None


# ---------------------------------------------------------------- pairing units
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
@dataclass(frozen=True)
class ContractInput:
    """What the contract form submits (budget as typed, in yuan; hours as a number or None/NaN when not one)."""

    code: str
    title: str
    starts_on: date | None
    ends_on: date | None
    budget_yuan: str
    purchased_hours: float | None
    category_ids: tuple[int, ...]


def contracts_query(agency: Agency, when: str | None = None, on: date | None = None) -> sa.Select:
    """An agency's contracts, latest period first; `when` current / past / future (relative to `on`) filters."""
    query = (sa.select(Contract).where(Contract.agency_id == agency.id)
             .options(selectinload(Contract.categories)))
    if on is not None and when == "current":
        query = query.where(Contract.starts_on <= on, Contract.ends_on >= on)
    elif on is not None and when == "past":
        query = query.where(Contract.ends_on < on)
    elif on is not None and when == "future":
        query = query.where(Contract.starts_on > on)
    return query.order_by(Contract.starts_on.desc(), Contract.id.desc())


def get_contract(contract_id: int) -> Contract | None:
    """A contract by its id (city staff reach every contract)."""
    return db.session.get(Contract, contract_id)


def budget_cents(text: str | None) -> int | None:
    """A budget typed in yuan (digits, optional thousands separators, at most 2 decimals) as cents, else None."""
    raw = (text or "").strip().replace(",", "").replace("，", "").replace("¥", "").replace("￥", "")
    if not re.fullmatch(r"\d{1,12}(?:\.\d{1,2})?", raw):
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        return None
    if not Decimal(0) < value <= MAX_BUDGET_YUAN:
        return None
    return int(value * 100)


def _contract_errors(data: ContractInput, contract: Contract | None) -> tuple[dict[str, str], dict]:
    errors: dict[str, str] = {}
    code = (data.code or "").strip()
    if not CODE_MIN <= len(code) <= CODE_MAX:
        errors["code"] = _("Enter the contract number (%(low)s to %(high)s characters).", low=CODE_MIN, high=CODE_MAX)
    elif db.session.scalar(sa.select(Contract.id).where(
            Contract.code == code, Contract.id != (contract.id if contract is not None else -1))):
        errors["code"] = _("Another contract already has this number.")
    title = (data.title or "").strip()
    if not TITLE_MIN <= len(title) <= TITLE_MAX:
        errors["title"] = _("Enter the project title (%(low)s to %(high)s characters).", low=TITLE_MIN,
                            high=TITLE_MAX)
    if data.starts_on is None:
        errors["starts_on"] = _("Enter the first day as YYYY-MM-DD.")
    if data.ends_on is None:
        errors["ends_on"] = _("Enter the last day as YYYY-MM-DD.")
    elif data.starts_on is not None and data.ends_on < data.starts_on:
        errors["ends_on"] = _("The last day cannot be before the first day.")
    cents = budget_cents(data.budget_yuan)
    if cents is None:
        errors["budget_yuan"] = _("Enter the budget in yuan, more than 0 and at most %(max)s, with at most two "
                                  "decimals, e.g. 450000.00.", max=f"{MAX_BUDGET_YUAN:,.0f}")
    hours = data.purchased_hours
    if hours is None or not 0 < hours <= MAX_HOURS:  # NaN fails too
        errors["purchased_hours"] = _("Enter the purchased service hours, more than 0 and at most %(max)s.",
                                      max=f"{MAX_HOURS:,.0f}")
    elif contract is not None and round(hours, 2) < contract.used_hours:
        errors["purchased_hours"] = _("%(used)s hours of this contract are already used: purchased hours cannot "
                                      "be fewer.", used=f"{contract.used_hours:.1f}")
    wanted = set(data.category_ids)
    categories = list(db.session.scalars(sa.select(ServiceCategory).where(ServiceCategory.id.in_(wanted))
                                         .order_by(ServiceCategory.id))) if wanted else []
    if not categories or len(categories) != len(wanted):
        errors["category_ids"] = _("Tick the service categories the contract buys (at least one).")
    return errors, {"code": code, "title": title, "budget_cents": cents,
                    "hours": round(hours, 2) if "purchased_hours" not in errors else None, "categories": categories}


def overlapping(agency: Agency, starts_on: date, ends_on: date, category_ids: set[int],
                contract: Contract | None = None) -> list[tuple[Contract, list[ServiceCategory]]]:
    """The agency's other contracts whose period overlaps [starts_on, ends_on] for a shared category, with those
    categories."""
    others = db.session.scalars(
        sa.select(Contract).where(Contract.agency_id == agency.id, Contract.starts_on <= ends_on,
                                  Contract.ends_on >= starts_on,
                                  Contract.id != (contract.id if contract is not None else -1))
        .options(selectinload(Contract.categories)).order_by(Contract.starts_on, Contract.id)).all()
    found = []
    for other in others:
        shared = [c for c in other.categories if c.id in category_ids]
        if shared:
            found.append((other, shared))
    return found


def _overlap_message(found: list[tuple[Contract, list[ServiceCategory]]], zh: bool) -> str:
    other, shared = found[0]
    names = "、".join(c.name_zh for c in shared) if zh else ", ".join(c.name_en for c in shared)
    return _("The period overlaps contract %(code)s “%(title)s” (%(start)s to %(end)s) for %(categories)s. "
             "Contracts of one agency may not overlap for the same service category: change the period or the "
             "categories.", code=other.code, title=other.title, start=other.starts_on.isoformat(),
             end=other.ends_on.isoformat(), categories=names)


def _lock_agency(agency: Agency) -> None:
    """Serialise contract writes of one agency: a no-op UPDATE of its row (PostgreSQL: a row lock until commit;
    SQLite: the write lock) taken before the overlap check reads."""
    db.session.execute(sa.update(Agency).where(Agency.id == agency.id).values(contact_name=Agency.contact_name)
                       .execution_options(synchronize_session=False))


def _check_contract(agency: Agency, data: ContractInput, contract: Contract | None, zh: bool) -> dict:
    errors, clean = _contract_errors(data, contract)
    if not errors:
        found = overlapping(agency, data.starts_on, data.ends_on, {c.id for c in clean["categories"]}, contract)
        if found:
            errors["starts_on"] = _overlap_message(found, zh)
    if errors:
        raise OrganisationInvalid(errors)
    return clean


def create_contract(agency: Agency, data: ContractInput, actor: User, ip: str | None = None,
                    zh: bool = True) -> Contract:
    """Record a government-purchase contract of an agency (no hours used yet); refused if its period overlaps
    another of the agency's contracts for a shared category; audited."""
    require_city_staff(actor)
    _lock_agency(agency)
    clean = _check_contract(agency, data, None, zh)
    contract = Contract(agency_id=agency.id, code=clean["code"], title=clean["title"],
                        budget_cents=clean["budget_cents"], purchased_hours=clean["hours"], used_hours=0.0,
                        starts_on=data.starts_on, ends_on=data.ends_on)
    contract.categories = clean["categories"]
    db.session.add(contract)
    db.session.flush()
    audit.record("contract_created", actor, "contract", contract.id, ip=ip, agency_id=agency.id,
                 provider_id=agency.provider_id, code=contract.code, purchased_hours=contract.purchased_hours,
                 budget_cents=contract.budget_cents, starts_on=contract.starts_on.isoformat(),
                 ends_on=contract.ends_on.isoformat(), categories=[c.code for c in contract.categories])
    matching.invalidate()  # an agency with hours left is dispatchable
    return contract


def update_contract(contract: Contract, data: ContractInput, actor: User, ip: str | None = None,
                    zh: bool = True) -> Contract:
    """Change a contract's number, title, period, budget, purchased hours and categories (never hours used);
    purchased hours stay at least the hours used, also against a charge made at the same moment; audited."""
    require_city_staff(actor)
    agency = contract.agency
    _lock_agency(agency)
    db.session.refresh(contract)
    clean = _check_contract(agency, data, contract, zh)
    before = {"code": contract.code, "title": contract.title, "starts_on": contract.starts_on.isoformat(),
              "ends_on": contract.ends_on.isoformat(), "budget_cents": contract.budget_cents,
              "purchased_hours": contract.purchased_hours, "categories": [c.code for c in contract.categories]}
    done = db.session.execute(
        sa.update(Contract).where(Contract.id == contract.id, Contract.used_hours <= clean["hours"])
        .values(purchased_hours=clean["hours"]).execution_options(synchronize_session=False))
    db.session.refresh(contract)
    if done.rowcount != 1:
        raise OrganisationInvalid({"purchased_hours": _(
            "%(used)s hours of this contract are already used: purchased hours cannot be fewer.",
            used=f"{contract.used_hours:.1f}")})
    contract.code, contract.title = clean["code"], clean["title"]
    contract.starts_on, contract.ends_on = data.starts_on, data.ends_on
    contract.budget_cents = clean["budget_cents"]
    contract.categories = clean["categories"]
    db.session.flush()
    after = {"code": contract.code, "title": contract.title, "starts_on": contract.starts_on.isoformat(),
             "ends_on": contract.ends_on.isoformat(), "budget_cents": contract.budget_cents,
             "purchased_hours": contract.purchased_hours, "categories": [c.code for c in contract.categories]}
    audit.record("contract_updated", actor, "contract", contract.id, ip=ip, agency_id=agency.id,
                 provider_id=agency.provider_id, changed=_changed(before, after),
                 purchased_hours=contract.purchased_hours, used_hours=contract.used_hours)
    matching.invalidate()
    return contract


# ---------------------------------------------------------------- pairings
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


def unit_choices() -> list[Provider]:
    """Approved pairing units, by name (what a pairing may be made with)."""
    return list(db.session.scalars(sa.select(Provider).where(Provider.kind == ProviderKind.unit,
                                                             Provider.status == ProviderStatus.approved)
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
        Provider.id == (data.unit_provider_id or -1), Provider.kind == ProviderKind.unit))
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
