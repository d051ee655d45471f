"""The organisations family: social-work agencies, pairing units, the agencies' government-purchase contracts and
the units' pairings with households.

Every business rule is the organisation pages' own, taken from services/organisations (the credit code's check
character, the unique licence, the limits, contracts of one agency not overlapping for a shared category, one
active pairing per unit and household); this module only reads the cells and says which row breaks which rule.
Rows are matched to what is registered by the unified social credit code (agencies, units; a unit registered on
the pages without a code is matched by its name and gets the code), the contract number, and (unit, household)
for an active pairing: the same row imported again is skipped, a changed one updates the record through the
service functions the pages use (each audited), never a duplicate. A pairing whose household is already paired
with the unit since another day is refused. Agencies, units and contracts are the city bureau's register (city
staff only); town staff import the pairings of their own town's households. A contract may name an agency of the
same file, a pairing a unit or a household (家庭 sheet) of the same file.
"""

from __future__ import annotations

import re
from datetime import date, datetime

import sqlalchemy as sa

from socialforce.platform import crypto, uscc
from socialforce.platform.extensions import db
from socialforce.platform.imports import cells
from socialforce.platform.imports.rules import AGENCIES, CONTRACTS, PAIRINGS, UNIT_TYPE_WORDS, UNITS
from socialforce.platform.imports.sheets import Table
from socialforce.platform.imports.validation import Plan, Progress, RowError, Validator, _Row, chunks, one_of
from socialforce.platform.models import (
    Agency,
    Household,
    Pairing,
    PairingUnit,
    ProviderStatus,
    Role,
    ServiceCategory,
    User,
)
from socialforce.platform.services import organisations as orgs
from socialforce.platform.services.organisations import common
from socialforce.platform.services.provider_profiles import CONTACT_MAX, CONTACT_MIN

_HOURS = re.compile(r"^\d{1,7}(\.\d{1,2})?$")
KEYS = ("agencies", "units", "contracts", "pairings")


def _credit_code(row: _Row, key: str) -> str | None:
    """A valid unified social credit code in canonical form (its check character verified), else None."""
    raw = row.text(key)
    if not raw or key in row.failed:
        return None
    try:
        return uscc.normalize(raw)
    except uscc.InvalidCreditCode as e:
        row.fail(key, "bad_credit_code", reason=e.reason)
        return None


def _length(row: _Row, key: str, low: int, high: int, code: str) -> str:
    value = row.text(key)
    if value and not low <= len(value) <= high:
        row.fail(key, code, low=low, high=high)
    return value


def _town(check: Validator, row: _Row, key: str) -> int | None:
    name = row.text(key)
    town_id = check.towns.get(name)
    if name and town_id is None and key not in row.failed:
        row.fail(key, "unknown_town")
    return town_id


def _towns(check: Validator, row: _Row, key: str) -> tuple[int, ...]:
    found = set()
    for name in cells.names_list(row.text(key)):
        town_id = check.towns.get(name)
        if town_id is None:
            row.fail(key, "unknown_town")
            return ()
        found.add(town_id)
    return tuple(sorted(found))


def _quota(row: _Row) -> int | None:
    raw = row.text("quota")
    if not raw or "quota" in row.failed:
        return None
    if not raw.isdigit() or not common.QUOTA_MIN <= int(raw) <= common.QUOTA_MAX:
        row.fail("quota", "bad_quota", low=common.QUOTA_MIN, high=common.QUOTA_MAX)
        return None
    return int(raw)


def _any_date(raw: str) -> date:
    """A date in the import's formats, future dates allowed (a contract's last day)."""
    return cells.a_date(cells.date_part(raw), date.max)


def _city_only(check: Validator, sheets: list[Table]) -> bool:
    """Whether the user may import these sheets (city staff); otherwise one error per sheet."""
    if check.user.role == Role.city_staff:
        return True
    for sheet in sheets:
        check.plan.add_error(RowError(sheet.name, sheet.header_row, "", "", "city_staff_only"))
    return False


def validate(check: Validator, tables: dict[str, list[Table]]) -> None:
    """Check agencies, units, contracts and pairings (in this order: later sheets may name earlier rows)."""
    for key in KEYS:
        check.plan.rows.setdefault(key, [])
        check.plan.changes.setdefault(key, [])
    file_agencies = _agencies(check, tables.get("agencies", []))
    file_units = _units(check, tables.get("units", []))
    _contracts(check, tables.get("contracts", []), file_agencies)
    _pairings(check, tables.get("pairings", []), file_units)


# ---------------------------------------------------------------- agencies
def _agencies(check: Validator, sheets: list[Table]) -> set[str]:
    """Check agency rows; returns the credit codes the file registers."""
    if not sheets or not _city_only(check, sheets):
        return set()
    pending: list[tuple[_Row, dict]] = []
    codes: set[str] = set()
    licences: set[str] = set()
    for sheet in sheets:
        for row in check._rows(sheet, AGENCIES):
            values = {
                "name": _length(row, "name", common.NAME_MIN, common.NAME_MAX, "bad_name"),
                "credit_code": _credit_code(row, "credit_code"),
                "licence_no": _length(row, "licence_no", common.LICENCE_MIN, common.LICENCE_MAX, "bad_licence"),
                "contact_name": _length(row, "contact_name", CONTACT_MIN, CONTACT_MAX, "bad_contact_name"),
                "contact_phone": row.text("contact_phone"),
                "town_id": _town(check, row, "town"),
                "town_ids": _towns(check, row, "towns"),
            }
            if values["contact_phone"] and not common.PHONE_RE.match(values["contact_phone"]):
                row.fail("contact_phone", "bad_contact_phone")
            if values["credit_code"]:
                if values["credit_code"] in codes:
                    row.fail("credit_code", "duplicate_in_file")
                codes.add(values["credit_code"])
            if values["licence_no"] and "licence_no" not in row.failed:
                if values["licence_no"] in licences:
                    row.fail("licence_no", "duplicate_in_file")
                licences.add(values["licence_no"])
            if not row.failed:
                pending.append((row, values))
    registered = orgs.agencies_by_credit_code({v["credit_code"] for _, v in pending})
    holders = orgs.licence_holders({v["licence_no"] for _, v in pending})
    plan = check.plan
    for row, values in pending:
        holder = holders.get(values["licence_no"])
        if holder is not None and holder[0] != values["credit_code"]:
            row.fail("licence_no", "licence_taken", name=holder[1])
            continue
        agency = registered.get(values["credit_code"])
        if agency is None:
            plan.rows["agencies"].append(values)
        elif _same_agency(agency, values):
            plan.existing["agencies"] += 1
        else:
            plan.changes["agencies"].append({**values, "id": agency.id})
    return codes


def _same_agency(agency: Agency, values: dict) -> bool:
    provider = agency.provider
    phone = crypto.decrypt(agency.contact_phone_enc) if agency.contact_phone_enc else ""
    return (provider.name, agency.licence_no, agency.contact_name, phone, provider.town_id,
            tuple(t.id for t in provider.towns_covered)) == (
        values["name"], values["licence_no"], values["contact_name"], values["contact_phone"], values["town_id"],
        values["town_ids"])


# ---------------------------------------------------------------- pairing units
def _units(check: Validator, sheets: list[Table]) -> set[str]:
    """Check pairing-unit rows; returns the credit codes the file registers."""
    if not sheets or not _city_only(check, sheets):
        return set()
    pending: list[tuple[_Row, dict]] = []
    codes: set[str] = set()
    for sheet in sheets:
        for row in check._rows(sheet, UNITS):
            word = row.text("unit_type")
            unit_type = UNIT_TYPE_WORDS.get(word.lower() if word.isascii() else word)
            if word and unit_type is None and "unit_type" not in row.failed:
                row.fail("unit_type", "bad_unit_type")
            values = {
                "name": _length(row, "name", common.NAME_MIN, common.NAME_MAX, "bad_name"),
                "credit_code": _credit_code(row, "credit_code"),
                "unit_type": unit_type,
                "department": row.text("department") or None,
                "town_id": _town(check, row, "town"),
                "town_ids": _towns(check, row, "towns"),
                "quota": _quota(row),
            }
            if values["credit_code"]:
                if values["credit_code"] in codes:
                    row.fail("credit_code", "duplicate_in_file")
                codes.add(values["credit_code"])
            if not row.failed:
                pending.append((row, values))
    registered = orgs.units_by_credit_code({v["credit_code"] for _, v in pending})
    unnamed = orgs.units_without_code({v["name"] for _, v in pending if v["credit_code"] not in registered})
    plan = check.plan
    for _row, values in pending:
        unit = registered.get(values["credit_code"]) or unnamed.pop(values["name"], None)
        if unit is None:
            plan.rows["units"].append(values)
        elif _same_unit(unit, values):
            plan.existing["units"] += 1
        else:
            plan.changes["units"].append({**values, "id": unit.id})
    return codes


def _same_unit(unit: PairingUnit, values: dict) -> bool:
    provider = unit.provider
    quota = values["quota"] if values["quota"] is not None else unit.monthly_visit_quota
    return (provider.name, unit.credit_code, unit.unit_type, unit.department, unit.monthly_visit_quota,
            provider.town_id, tuple(t.id for t in provider.towns_covered)) == (
        values["name"], values["credit_code"], values["unit_type"], values["department"], quota,
        values["town_id"], values["town_ids"])


# ---------------------------------------------------------------- contracts
def _contracts(check: Validator, sheets: list[Table], file_agencies: set[str]) -> None:
    """Check contract rows: their agency, period, budget, hours, categories, and no overlap for a category."""
    if not sheets or not _city_only(check, sheets):
        return
    pending: list[tuple[_Row, dict]] = []
    numbers: set[str] = set()
    for sheet in sheets:
        for row in check._rows(sheet, CONTRACTS):
            values = {
                "code": _length(row, "code", common.CODE_MIN, common.CODE_MAX, "bad_contract_code"),
                "agency": _credit_code(row, "agency"),
                "title": _length(row, "title", common.TITLE_MIN, common.TITLE_MAX, "bad_title"),
                "starts_on": row.parse("starts_on", _any_date),
                "ends_on": row.parse("ends_on", _any_date),
                "budget_yuan": row.text("budget"),
                "hours": _contract_hours(row),
                "category_ids": _service_categories(check, row),
            }
            if values["budget_yuan"] and "budget" not in row.failed:
                values["budget_yuan"] = cells.text(row.raw("budget"))
                if orgs.budget_cents(values["budget_yuan"]) is None:
                    row.fail("budget", "bad_budget", max=f"{common.MAX_BUDGET_YUAN:,.0f}")
            if values["starts_on"] and values["ends_on"] and values["ends_on"] < values["starts_on"]:
                row.fail("ends_on", "bad_period")
            if values["code"] and "code" not in row.failed:
                if values["code"] in numbers:
                    row.fail("code", "duplicate_in_file")
                numbers.add(values["code"])
            if not row.failed:
                pending.append((row, values))
    registered = orgs.agencies_by_credit_code({v["agency"] for _, v in pending})
    contracts = orgs.contracts_by_code({v["code"] for _, v in pending})
    names = {c.id: (c.name_zh, c.name_en) for c in db.session.scalars(sa.select(ServiceCategory))}
    redescribed = {v["code"] for _, v in pending if v["code"] in contracts  # checked against the file's version
                   and contracts[v["code"]].agency.credit_code == v["agency"]
                   and round(v["hours"], 2) >= contracts[v["code"]].used_hours}
    accepted: dict[str, list[dict]] = {}  # agency code -> the file's contracts checked so far
    plan = check.plan
    for row, values in pending:
        agency = registered.get(values["agency"])
        if agency is None and values["agency"] not in file_agencies:
            row.fail("agency", "agency_missing")
            continue
        contract = contracts.get(values["code"])
        if contract is not None and contract.agency.credit_code != values["agency"]:
            row.fail("code", "contract_other_agency")
            continue
        if contract is not None and round(values["hours"], 2) < contract.used_hours:
            row.fail("hours", "hours_below_used", used=f"{contract.used_hours:.1f}")
            continue
        period = (values["starts_on"], values["ends_on"])
        wanted = set(values["category_ids"])
        clash = next(((o["code"], o["starts_on"], o["ends_on"], wanted & set(o["category_ids"]))
                      for o in accepted.get(values["agency"], [])
                      if orgs.periods_overlap(period, (o["starts_on"], o["ends_on"]))
                      and wanted & set(o["category_ids"])), None)
        if clash is None and agency is not None:
            clash = next(((other.code, other.starts_on, other.ends_on, {c.id for c in shared})
                          for other, shared in orgs.overlapping(agency, *period, wanted, contract)
                          if other.code not in redescribed), None)
        if clash is not None:
            code, start, end, shared = clash
            row.fail("starts_on", "contract_overlap", contract=code, start=start.isoformat(), end=end.isoformat(),
                     categories_zh="、".join(names[c][0] for c in sorted(shared)),
                     categories_en=", ".join(names[c][1] for c in sorted(shared)))
            continue
        accepted.setdefault(values["agency"], []).append(values)
        if contract is None:
            plan.rows["contracts"].append(values)
        elif _same_contract(contract, values):
            plan.existing["contracts"] += 1
        else:
            plan.changes["contracts"].append({**values, "id": contract.id})


def _contract_hours(row: _Row) -> float | None:
    raw = row.text("hours")
    if not raw or "hours" in row.failed:
        return None
    value = row.raw("hours")
    text = raw.replace(",", "").replace("小时", "").strip()
    hours = float(value) if isinstance(value, int | float) else float(text) if _HOURS.match(text) else None
    if not orgs.valid_purchased_hours(hours):
        row.fail("hours", "bad_contract_hours", max=f"{common.MAX_HOURS:,.0f}")
        return None
    return round(hours, 2)


def _service_categories(check: Validator, row: _Row) -> tuple[int, ...]:
    found: set[int] = set()
    for name in cells.names_list(row.text("categories")):
        category_id = check.services.get(name)
        if category_id is None:
            row.fail("categories", "unknown_service_category")
            return ()
        found.add(category_id)
    return tuple(sorted(found))


def _same_contract(contract, values: dict) -> bool:
    return (contract.title, contract.starts_on, contract.ends_on, contract.budget_cents, contract.purchased_hours,
            tuple(c.id for c in contract.categories)) == (
        values["title"], values["starts_on"], values["ends_on"], orgs.budget_cents(values["budget_yuan"]),
        values["hours"], values["category_ids"])


# ---------------------------------------------------------------- pairings
def _pairings(check: Validator, sheets: list[Table], file_units: set[str]) -> None:
    """Check pairing rows: the unit, the household (in the user's area), the first day, one active pairing."""
    pending: list[tuple[_Row, dict]] = []
    seen: set[tuple[str, str]] = set()
    for sheet in sheets:
        for row in check._rows(sheet, PAIRINGS):
            values = {
                "unit": _credit_code(row, "unit"),
                "household": row.text("household"),
                "since": row.parse("since", _any_date),
                "quota": _quota(row),
            }
            if values["since"] and values["since"] > check.today:
                row.fail("since", "future_since")
            key = (values["unit"], values["household"])
            if all(key) and not row.failed:  # a row refused for another reason does not make later ones duplicates
                if key in seen:
                    row.fail("household", "duplicate_in_file")
                seen.add(key)
            if not row.failed:
                pending.append((row, values))
    check._load_households(v["household"] for _, v in pending)
    units = orgs.units_by_credit_code({v["unit"] for _, v in pending})
    pairs = {(units[v["unit"]].provider_id, check.db_households[v["household"]][0]) for _, v in pending
             if v["unit"] in units and v["household"] in check.db_households}
    active = orgs.active_pairings(pairs)
    plan = check.plan
    for row, values in pending:
        unit = units.get(values["unit"])
        if unit is None and values["unit"] not in file_units:
            row.fail("unit", "unit_missing")
            continue
        if unit is not None and unit.provider.status != ProviderStatus.approved:
            row.fail("unit", "unit_not_approved")
            continue
        _code, household_id = check._household_of(row)
        if "household" in row.failed:
            continue
        current = active.get((unit.provider_id, household_id)) if unit is not None and household_id else None
        if current is None:
            plan.rows["pairings"].append(values)
        elif current.since != values["since"]:
            row.fail("household", "already_paired", unit=unit.provider.name, since=current.since.isoformat())
        elif values["quota"] is None or values["quota"] == current.monthly_visit_quota:
            plan.existing["pairings"] += 1
        else:
            plan.changes["pairings"].append({**values, "id": current.id})


# ---------------------------------------------------------------- writing
def write(plan: Plan, check: Validator, user: User, now: datetime, progress: Progress) -> dict[str, int]:
    """Register and update through the organisation services (each record audited as on the pages)."""
    counts: dict[str, int] = {}
    for key, create, update in (
        ("agencies", _create_agency, _update_agency),
        ("units", _create_unit, _update_unit),
        ("contracts", _create_contract, _update_contract),  # changes first: a moved period frees its old days
        ("pairings", None, _update_pairing),
    ):
        changes, new = plan.changes.get(key, []), plan.rows.get(key, [])
        for done, values in enumerate(changes, start=1):
            update(values, user, now)
            progress("update_" + key, done, len(changes))
        if create is None:
            _create_pairings(new, user)
            progress("write_" + key, len(new), len(new))
        for done, values in enumerate(new if create is not None else [], start=1):
            create(values, user, now)
            progress("write_" + key, done, len(new))
        counts[key], counts[key + "_updated"] = len(new), len(changes)
    return counts


def _agency_input(values: dict) -> orgs.AgencyInput:
    return orgs.AgencyInput(values["name"], values["credit_code"], values["licence_no"], values["contact_name"],
                            values["contact_phone"], orgs.Place(values["town_id"], values["town_ids"]))


def _create_agency(values: dict, user: User, now: datetime) -> None:
    orgs.create_agency(_agency_input(values), user)


def _update_agency(values: dict, user: User, now: datetime) -> None:
    orgs.update_agency(db.session.get(Agency, values["id"]), _agency_input(values), user)


def _unit_input(values: dict, quota: int) -> orgs.UnitInput:
    return orgs.UnitInput(values["name"], values["unit_type"], values["department"] or "",
                          values["quota"] if values["quota"] is not None else quota,
                          orgs.Place(values["town_id"], values["town_ids"]), credit_code=values["credit_code"])


def _create_unit(values: dict, user: User, now: datetime) -> None:
    orgs.create_unit(_unit_input(values, 1), user)


def _update_unit(values: dict, user: User, now: datetime) -> None:
    unit = db.session.get(PairingUnit, values["id"])
    orgs.update_unit(unit, _unit_input(values, unit.monthly_visit_quota), user)


def _contract_input(values: dict) -> orgs.ContractInput:
    return orgs.ContractInput(values["code"], values["title"], values["starts_on"], values["ends_on"],
                              values["budget_yuan"], values["hours"], values["category_ids"])


def _create_contract(values: dict, user: User, now: datetime) -> None:
    agency = orgs.agencies_by_credit_code({values["agency"]})[values["agency"]]
    orgs.create_contract(agency, _contract_input(values), user)


def _update_contract(values: dict, user: User, now: datetime) -> None:
    orgs.update_contract(orgs.get_contract(values["id"], user), _contract_input(values), user)


def _create_pairings(new: list[dict], user: User) -> None:
    """The new pairings at once (thousands in a county's file); units and households of this file included."""
    units = orgs.units_by_credit_code({v["unit"] for v in new})
    codes = sorted({v["household"] for v in new})
    households: dict[str, int] = {}
    for chunk in chunks(codes):
        households.update(db.session.execute(sa.select(Household.code, Household.id)
                                             .where(one_of(Household.code, chunk))).tuples().all())
    orgs.create_pairings([orgs.NewPairing(units[v["unit"]].provider_id, households[v["household"]], v["since"],
                                          v["quota"]) for v in new], user)


def _update_pairing(values: dict, user: User, now: datetime) -> None:
    pairing = db.session.get(Pairing, values["id"])
    orgs.update_pairing(pairing, pairing.cadre_id, values["quota"], True, user)
