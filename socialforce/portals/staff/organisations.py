"""Staff pages for organisations: agencies, pairing units and agencies' contracts (city staff only), and pairings
(town staff: their own town's households; city staff: all). Thin: parse the form, call one service in
services/organisations/, commit, render or redirect. A refused form is shown again with what was typed and every
message next to its field (status 400)."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from socialforce.platform import reference
from socialforce.platform.extensions import db
from socialforce.platform.i18n import select_locale
from socialforce.platform.inputs import parse_date, parse_ids, parse_int
from socialforce.platform.localtime import today
from socialforce.platform.models import ProviderStatus, Role
from socialforce.platform.services import ServiceError
from socialforce.platform.services import organisations as orgs
from socialforce.platform.services.providers import contract_totals
from socialforce.platform.transactions import run_in_transaction
from socialforce.portals import confirm
from socialforce.portals.forms import parse_float
from socialforce.portals.page_helpers import paginated
from socialforce.portals.staff.providers import STATUS_LABELS

PLACE_FIELDS = ("name", "town_id", "lat", "lon")


def _require_city() -> None:
    if current_user.role != Role.city_staff:
        abort(403)


def _page(query: sa.Select):
    return paginated(query)


def _zh() -> bool:
    return select_locale() == "zh_CN"


def _typed(form, *names: str) -> dict:
    """What was typed, to show again (to the user who typed it; a stored phone is only ever shown masked)."""
    values = {name: form.get(name, "") for name in names}
    values["town_ids"] = set(parse_ids(form.getlist("town_ids")))
    values["category_ids"] = set(parse_ids(form.getlist("category_ids")))
    return values


def _place(form) -> orgs.Place:
    lat, lon = parse_float(form.get("lat")), parse_float(form.get("lon"))
    return orgs.Place(town_id=parse_int(form.get("town_id")), town_ids=parse_ids(form.getlist("town_ids")),
                      lat=lat, lon=lon)


def _place_values(provider) -> dict:
    """An organisation's name and place for its edit form; latitude and longitude stay empty (keep the place, or
    take the new home town's centre), the current place is shown beside them."""
    return {"name": provider.name, "town_id": str(provider.town_id), "lat": "", "lon": "",
            "town_ids": {t.id for t in provider.towns_covered}}


def _save(work, render_again, duplicate=None):
    """Run the service call; on refused input render the form again (400); on a unique clash ask `duplicate`."""
    try:
        return run_in_transaction(work), None
    except orgs.OrganisationInvalid as e:
        return None, render_again(e.errors)
    except ServiceError as e:
        if e.status in (403, 404):
            abort(e.status)
        return None, render_again({e.field or "form": e.message})
    except sa.exc.IntegrityError:  # the same code, licence or pairing saved a moment ago by someone else
        return None, render_again(duplicate() if duplicate else {"form": _("This was saved by someone else a "
                                                                          "moment ago; reload the page.")})


# ---------------------------------------------------------------- agencies
def agencies():
    """Agencies with their registration, contact (masked) and hours of the contracts in force (city staff)."""
    _require_city()
    args = request.args
    page = _page(orgs.agencies_query(current_user, args.get("q"), args.get("town", type=int), args.get("status")))
    day = today()
    hours = {p.id: contract_totals(p, day) for p in page.items}
    return render_template("staff/organisations/agencies.html", page=page, hours=hours, towns=reference.scope_towns(current_user),
                           statuses=list(ProviderStatus), status_labels=STATUS_LABELS)


def _agency_form(agency, values: dict, errors: dict, status: int = 200):
    return render_template("staff/organisations/agency_form.html", agency=agency, values=values, errors=errors,
                           towns=reference.scope_towns(current_user)), status


def _agency_input(form, editing: bool) -> orgs.AgencyInput:
    phone = form.get("contact_phone", "").strip()
    return orgs.AgencyInput(name=form.get("name", ""), credit_code=form.get("credit_code", ""),
                            licence_no=form.get("licence_no", ""), contact_name=form.get("contact_name", ""),
                            contact_phone=None if editing and not phone else phone, place=_place(form))


AGENCY_FIELDS = (*PLACE_FIELDS, "credit_code", "licence_no", "contact_name", "contact_phone")


def agency_new():
    """Register a social-work agency (city staff); it starts approved."""
    _require_city()
    if request.method == "GET":
        return _agency_form(None, {"town_ids": set()}, {})
    data = _agency_input(request.form, editing=False)
    agency, page = _save(lambda: orgs.create_agency(data, current_user, request.remote_addr),
                         lambda errors: _agency_form(None, _typed(request.form, *AGENCY_FIELDS), errors, 400),
                         lambda: orgs.duplicate_errors(data.credit_code.strip().upper(), data.licence_no.strip())
                         or {"credit_code": _("This agency was registered a moment ago by someone else.")})
    if page is not None:
        return page
    flash(_("%(name)s was registered and approved. Add its contracts below; it appears in matching once it "
            "publishes an offer.", name=agency.provider.name), "success")
    return redirect(url_for("staff.agency_contracts", agency_id=agency.id), 303)


def _agency_or_404(agency_id: int):
    agency = orgs.get_agency(agency_id, current_user)
    if agency is None:
        abort(404)
    return agency


def agency_edit(agency_id: int):
    """Edit an agency's registration, contact, towns and place (city staff)."""
    _require_city()
    agency = _agency_or_404(agency_id)
    if request.method == "GET":
        values = {**_place_values(agency.provider), "credit_code": agency.credit_code or "",
                  "licence_no": agency.licence_no, "contact_name": agency.contact_name}
        return _agency_form(agency, values, {})
    data = _agency_input(request.form, editing=True)
    saved, page = _save(lambda: orgs.update_agency(_agency_or_404(agency_id), data, current_user,
                                                   request.remote_addr),
                        lambda errors: _agency_form(_agency_or_404(agency_id), _typed(request.form, *AGENCY_FIELDS),
                                                    errors, 400),
                        lambda: orgs.duplicate_errors(data.credit_code.strip().upper(), data.licence_no.strip(),
                                                      _agency_or_404(agency_id)))
    if page is not None:
        return page
    flash(_("The changes were saved."), "success")
    return redirect(url_for("staff.agency_contracts", agency_id=agency_id), 303)


# ---------------------------------------------------------------- contracts
def agency_contracts(agency_id: int):
    """An agency's registration and its contracts (hours used shown, never editable), filtered by period."""
    _require_city()
    agency = _agency_or_404(agency_id)
    when = request.args.get("when")
    day = today()
    page = _page(orgs.contracts_query(agency, when, day))
    used, purchased = contract_totals(agency.provider, day)
    return render_template("staff/organisations/contracts.html", agency=agency, page=page, when=when,
                           used=used, purchased=purchased, today=day, status_labels=STATUS_LABELS)


def _contract_form(agency, contract, values: dict, errors: dict, status: int = 200):
    return render_template("staff/organisations/contract_form.html", agency=agency, contract=contract,
                           values=values, errors=errors, categories=reference.categories()), status


def _contract_input(form) -> orgs.ContractInput:
    return orgs.ContractInput(code=form.get("code", ""), title=form.get("title", ""),
                              starts_on=parse_date(form.get("starts_on")), ends_on=parse_date(form.get("ends_on")),
                              budget_yuan=form.get("budget_yuan", ""),
                              purchased_hours=parse_float(form.get("purchased_hours")),
                              category_ids=parse_ids(form.getlist("category_ids")))


CONTRACT_FIELDS = ("code", "title", "starts_on", "ends_on", "budget_yuan", "purchased_hours")


def contract_new(agency_id: int):
    """Record a government-purchase contract of an agency (city staff)."""
    _require_city()
    agency = _agency_or_404(agency_id)
    if request.method == "GET":
        return _contract_form(agency, None, {"category_ids": set()}, {})
    data = _contract_input(request.form)
    agency_id = agency.id
    db.session.commit()  # end the read transaction before the agency's row is locked
    contract, page = _save(
        lambda: orgs.create_contract(_agency_or_404(agency_id), data, current_user, request.remote_addr, _zh()),
        lambda errors: _contract_form(_agency_or_404(agency_id), None, _typed(request.form, *CONTRACT_FIELDS),
                                      errors, 400),
        lambda: {"code": _("Another contract already has this number.")})
    if page is not None:
        return page
    flash(_("Contract %(code)s was recorded.", code=contract.code), "success")
    return redirect(url_for("staff.agency_contracts", agency_id=agency_id), 303)


def _contract_or_404(contract_id: int):
    contract = orgs.get_contract(contract_id, current_user)
    if contract is None:
        abort(404)
    return contract


def contract_edit(contract_id: int):
    """Edit a contract; hours used stay as dispatch charged them (city staff)."""
    _require_city()
    contract = _contract_or_404(contract_id)
    agency_id = contract.agency_id
    if request.method == "GET":
        values = {"code": contract.code, "title": contract.title, "starts_on": contract.starts_on.isoformat(),
                  "ends_on": contract.ends_on.isoformat(), "budget_yuan": f"{contract.budget_cents / 100:.2f}",
                  "purchased_hours": f"{contract.purchased_hours:g}",
                  "category_ids": {c.id for c in contract.categories}}
        return _contract_form(contract.agency, contract, values, {})
    data = _contract_input(request.form)
    db.session.commit()  # end the read transaction before the agency's row is locked
    saved, page = _save(
        lambda: orgs.update_contract(_contract_or_404(contract_id), data, current_user, request.remote_addr, _zh()),
        lambda errors: _contract_form(_agency_or_404(agency_id), _contract_or_404(contract_id),
                                      _typed(request.form, *CONTRACT_FIELDS), errors, 400),
        lambda: {"code": _("Another contract already has this number.")})
    if page is not None:
        return page
    flash(_("The changes were saved."), "success")
    return redirect(url_for("staff.agency_contracts", agency_id=agency_id), 303)


# ---------------------------------------------------------------- pairing units
def units():
    """Pairing units with type, department, towns and default quota (city staff)."""
    _require_city()
    args = request.args
    page = _page(orgs.units_query(current_user, args.get("q"), args.get("type"), args.get("town", type=int), args.get("status")))
    return render_template("staff/organisations/units.html", page=page, towns=reference.scope_towns(current_user),
                           unit_types=orgs.UNIT_TYPES, statuses=list(ProviderStatus), status_labels=STATUS_LABELS)


def _unit_form(unit, values: dict, errors: dict, status: int = 200):
    return render_template("staff/organisations/unit_form.html", unit=unit, values=values, errors=errors,
                           towns=reference.scope_towns(current_user), unit_types=orgs.UNIT_TYPES), status


def _unit_input(form) -> orgs.UnitInput:
    return orgs.UnitInput(name=form.get("name", ""), unit_type=form.get("unit_type", ""),
                          department=form.get("department", ""),
                          monthly_visit_quota=parse_int(form.get("monthly_visit_quota")), place=_place(form),
                          credit_code=form.get("credit_code", ""))


UNIT_FIELDS = (*PLACE_FIELDS, "credit_code", "unit_type", "department", "monthly_visit_quota")


def _unit_clash() -> dict[str, str]:
    """The error for a credit code another unit saved a moment ago (the unique index refused the save)."""
    return {"credit_code": _("Another pairing unit was registered with this unified social credit code a moment "
                             "ago; reload the page.")}


def _unit_or_404(unit_id: int):
    unit = orgs.get_unit(unit_id, current_user)
    if unit is None:
        abort(404)
    return unit


def unit_new():
    """Register a pairing unit (city staff); it starts approved."""
    _require_city()
    if request.method == "GET":
        return _unit_form(None, {"town_ids": set(), "monthly_visit_quota": "1", "unit_type": "department"}, {})
    data = _unit_input(request.form)
    unit, page = _save(lambda: orgs.create_unit(data, current_user, request.remote_addr),
                       lambda errors: _unit_form(None, _typed(request.form, *UNIT_FIELDS), errors, 400), _unit_clash)
    if page is not None:
        return page
    flash(_("%(name)s was registered and approved; its administrator adds its cadres.", name=unit.provider.name),
          "success")
    return redirect(url_for("staff.units"), 303)


def unit_edit(unit_id: int):
    """Edit a pairing unit (city staff)."""
    _require_city()
    unit = _unit_or_404(unit_id)
    if request.method == "GET":
        values = {**_place_values(unit.provider), "unit_type": unit.unit_type, "department": unit.department or "",
                  "monthly_visit_quota": str(unit.monthly_visit_quota), "credit_code": unit.credit_code or ""}
        return _unit_form(unit, values, {})
    data = _unit_input(request.form)
    saved, page = _save(lambda: orgs.update_unit(_unit_or_404(unit_id), data, current_user, request.remote_addr),
                        lambda errors: _unit_form(_unit_or_404(unit_id), _typed(request.form, *UNIT_FIELDS), errors,
                                                  400), _unit_clash)
    if page is not None:
        return page
    flash(_("The changes were saved."), "success")
    return redirect(url_for("staff.units"), 303)


# ---------------------------------------------------------------- pairings
def pairings():
    """Pairings of the households in scope, filtered by unit, town, state and household; paged."""
    args = request.args
    city = current_user.town_id is None
    query = orgs.pairings_query(current_user, args.get("unit", type=int), args.get("town", type=int) if city else None,
                                args.get("state"), args.get("q"))
    page = _page(query)
    unit_names = orgs.provider_names({p.provider_id for p in page.items})
    return render_template("staff/organisations/pairings.html", page=page, unit_names=unit_names,
                           units=orgs.unit_choices(current_user), towns=reference.scope_towns(current_user))


def _pairing_form(pairing, values: dict, errors: dict, status: int = 200):
    units = orgs.unit_choices(current_user) if pairing is None else []
    ids = [u.id for u in units] if pairing is None else [pairing.provider_id]
    unit_name = orgs.provider_names({pairing.provider_id})[pairing.provider_id] if pairing is not None else ""
    return render_template("staff/organisations/pairing_form.html", pairing=pairing, values=values, errors=errors,
                           units=units, unit_name=unit_name, cadres=orgs.cadre_choices(ids), today=today()), status


def _quota(form) -> tuple[int | None, bool]:
    raw = form.get("monthly_visit_quota", "").strip()
    return parse_int(raw), bool(raw)


PAIRING_FIELDS = ("household_code", "unit_provider_id", "cadre_id", "monthly_visit_quota", "since")


def pairing_new():
    """Pair a household of the user's area with a pairing unit."""
    if request.method == "GET":
        code = orgs.household_code(parse_int(request.args.get("household")), current_user)
        return _pairing_form(None, {"household_code": code, "since": today().isoformat()}, {})
    form = request.form
    quota, given = _quota(form)
    data = orgs.PairingInput(household_code=form.get("household_code", ""),
                             unit_provider_id=parse_int(form.get("unit_provider_id")),
                             cadre_id=parse_int(form.get("cadre_id")) or None, monthly_visit_quota=quota,
                             quota_given=given, since=parse_date(form.get("since")))
    pairing, page = _save(lambda: orgs.create_pairing(data, current_user, today(), request.remote_addr),
                          lambda errors: _pairing_form(None, _typed(form, *PAIRING_FIELDS), errors, 400),
                          lambda: {"household_code": _("This household was paired with this unit a moment ago.")})
    if page is not None:
        return page
    flash(_("The pairing was recorded."), "success")
    return redirect(url_for("staff.pairings"), 303)


def _pairing_or_404(pairing_id: int):
    pairing = orgs.get_pairing(pairing_id, current_user)
    if pairing is None:
        abort(404)
    return pairing


def pairing_edit(pairing_id: int):
    """A pairing: change its cadre and own monthly quota, or end it."""
    pairing = _pairing_or_404(pairing_id)
    if request.method == "GET":
        values = {"cadre_id": str(pairing.cadre_id or ""), "ended_on": today().isoformat(),
                  "monthly_visit_quota": "" if pairing.monthly_visit_quota is None else str(pairing.monthly_visit_quota)}
        return _pairing_form(pairing, values, {})
    form = request.form
    quota, given = _quota(form)
    cadre_id = parse_int(form.get("cadre_id")) or None
    saved, page = _save(
        lambda: orgs.update_pairing(_pairing_or_404(pairing_id), cadre_id, quota, given, current_user,
                                    request.remote_addr),
        lambda errors: _pairing_form(_pairing_or_404(pairing_id),
                                     {**_typed(form, "cadre_id", "monthly_visit_quota"),
                                      "ended_on": today().isoformat()}, errors, 400))
    if page is not None:
        return page
    flash(_("The changes were saved."), "success")
    return redirect(url_for("staff.pairing_edit", pairing_id=pairing_id), 303)


def pairing_end(pairing_id: int):
    """End a pairing on a given day (it is kept, with its history)."""
    pairing = _pairing_or_404(pairing_id)
    form = request.form
    ended_on = parse_date(form.get("ended_on"))
    if ended_on is not None and not confirm.confirmed():
        unit = orgs.pairing_unit_name(pairing)
        return confirm.ask(_("End the pairing of %(unit)s with household %(household)s?", unit=unit,
                             household=pairing.household.code),
                           _("From %(day)s %(unit)s no longer visits household %(household)s; the pairing stays in "
                             "the household's history.", day=ended_on.isoformat(), unit=unit,
                             household=pairing.household.code),
                           _("End pairing"), url_for("staff.pairing_edit", pairing_id=pairing_id), danger=True)
    saved, page = _save(
        lambda: orgs.end_pairing(_pairing_or_404(pairing_id), ended_on, current_user, today(), request.remote_addr),
        lambda errors: _pairing_form(_pairing_or_404(pairing_id),
                                     {"ended_on": form.get("ended_on", ""), "cadre_id": "",
                                      "monthly_visit_quota": ""}, errors, 400))
    if page is not None:
        return page
    flash(_("The pairing was ended on %(day)s; it stays in the household's history.", day=ended_on.isoformat()),
          "success")
    return redirect(url_for("staff.pairing_edit", pairing_id=pairing_id), 303)
