"""Agencies' government-purchase contracts: budget, hours and categories, never overlapping for a shared category."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from socialforce.platform import scoping
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    Agency,
    Contract,
    Provider,
    ServiceCategory,
    User,
)
from socialforce.platform.services import audit, matching
from socialforce.platform.services.organisations.common import (
    CODE_MAX,
    CODE_MIN,
    MAX_BUDGET_YUAN,
    MAX_HOURS,
    TITLE_MAX,
    TITLE_MIN,
    OrganisationInvalid,
    _changed,
    require_city_staff,
)


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


def get_contract(contract_id: int, user: User) -> Contract | None:
    """A contract by its id, if its agency is in the user's scope."""
    return db.session.scalar(sa.select(Contract).join(Agency, Agency.id == Contract.agency_id)
                             .join(Provider, Provider.id == Agency.provider_id)
                             .where(Contract.id == contract_id, scoping.provider_filter(user)))


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


def valid_purchased_hours(hours: float | None) -> bool:
    """Whether a contract may buy this many hours (more than 0, at most MAX_HOURS; NaN is not)."""
    return hours is not None and 0 < hours <= MAX_HOURS


def periods_overlap(first: tuple[date, date], second: tuple[date, date]) -> bool:
    """Whether two periods (first day, last day; both included) share a day."""
    return first[0] <= second[1] and second[0] <= first[1]


def contracts_by_code(codes: set[str]) -> dict[str, Contract]:
    """The contracts with these numbers, by number."""
    if not codes:
        return {}
    rows = db.session.scalars(sa.select(Contract).where(Contract.code.in_(sorted(codes)))
                              .options(selectinload(Contract.categories), selectinload(Contract.agency)))
    return {contract.code: contract for contract in rows}


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
    if not valid_purchased_hours(hours):
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
