"""Social-work agencies: register and edit, with the unified social credit code and licence unique."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from socialforce.platform import crypto, scoping, uscc
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    Agency,
    Provider,
    ProviderKind,
    ProviderStatus,
    User,
)
from socialforce.platform.services import audit, matching
from socialforce.platform.services.organisations.common import (
    AGENCY_RADIUS_KM,
    CREDIT_CODE_ERRORS,
    LICENCE_MAX,
    LICENCE_MIN,
    NAME_MAX,
    PHONE_RE,
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
from socialforce.platform.services.provider_profiles import CONTACT_MAX, CONTACT_MIN


@dataclass(frozen=True)
class AgencyInput:
    """What the agency form submits; `contact_phone` None keeps the stored phone (editing)."""

    name: str
    credit_code: str
    licence_no: str
    contact_name: str
    contact_phone: str | None
    place: Place


def agencies_query(user: User, q: str | None = None, town_id: int | None = None, status: str | None = None
                   ) -> sa.Select:
    """Agencies (their providers) in the user's scope whose name, credit code or licence contains `q`, of a home
    town and status, by name."""
    query = (sa.select(Provider).join(Agency, Agency.provider_id == Provider.id).where(scoping.provider_filter(user))
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


def get_agency(agency_id: int, user: User) -> Agency | None:
    """An agency by its id, if in the user's scope (county staff: their county's and those granted to it)."""
    return db.session.scalar(sa.select(Agency).join(Provider, Provider.id == Agency.provider_id)
                             .where(Agency.id == agency_id, scoping.provider_filter(user)))


def agencies_by_credit_code(codes: set[str]) -> dict[str, Agency]:
    """The agencies holding these unified social credit codes, by code."""
    if not codes:
        return {}
    rows = db.session.scalars(sa.select(Agency).where(Agency.credit_code.in_(sorted(codes)))
                              .options(selectinload(Agency.provider).selectinload(Provider.towns_covered)))
    return {agency.credit_code: agency for agency in rows}


def licence_holders(licences: set[str]) -> dict[str, tuple[str | None, str]]:
    """Who holds these licence numbers: licence -> (the agency's credit code, its name)."""
    if not licences:
        return {}
    rows = db.session.execute(sa.select(Agency.licence_no, Agency.credit_code, Provider.name)
                              .join(Provider, Provider.id == Agency.provider_id)
                              .where(Agency.licence_no.in_(sorted(licences))))
    return {licence: (code, name) for licence, code, name in rows}


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
    town, covered = _check_place(data.place, errors, actor)
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
    town, covered = _check_place(data.place, errors, actor)
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
