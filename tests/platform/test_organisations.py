"""Organisations through the services: agencies (credit code, licence, towns, masked phone), pairing units,
contracts (overlap per category, hours used never below), pairings (one active per unit and household, scoped,
ended not deleted); all audited; a newly registered agency with an offer is ranked like a seeded one."""
from __future__ import annotations

import math
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from socialforce.platform import crypto
from socialforce.platform.extensions import db
from socialforce.platform.localtime import today
from socialforce.platform.models import (
    Agency,
    AuditLog,
    Contract,
    MemberRole,
    Pairing,
    PairingUnit,
    ProviderKind,
    ProviderMember,
    ProviderStatus,
    Role,
    User,
    utcnow,
)
from socialforce.platform.services import ServiceError, dispatch, matching, quotas
from socialforce.platform.services import organisations as orgs
from tests import factories

CODE = "91350100M000100Y43"  # GB 32100-2015's own example
OTHER_CODE = "914403001922038216"
PHONE = "13912345678"


def city():
    """The city staff user (created on first use)."""
    return db.session.scalar(sa.select(User).where(User.username == "city")) or factories.user("city",
                                                                                              Role.city_staff)


def town_staff(code: str = "longquan", username: str = "town1"):
    return factories.user(username, Role.town_staff, town_id=factories.town(code).id)


def place(*codes: str, lat=None, lon=None) -> orgs.Place:
    towns = [factories.town(c) for c in codes or ("longquan",)]
    return orgs.Place(town_id=towns[0].id, town_ids=tuple(t.id for t in towns), lat=lat, lon=lon)


def agency_input(**changes) -> orgs.AgencyInput:
    values = {"name": "滕州市新星社会工作服务中心", "credit_code": CODE, "licence_no": "滕民证字第0099号",
              "contact_name": "李娜", "contact_phone": PHONE, "place": place("longquan", "jinghe")}
    values.update(changes)
    return orgs.AgencyInput(**values)


def contract_input(**changes) -> orgs.ContractInput:
    categories = changes.pop("categories", ("counselling", "emotional_comfort"))
    values = {"code": "TZMZ-GM-2027-001", "title": "2027年困难家庭服务类社会救助政府购买服务项目",
              "starts_on": date(2027, 1, 1), "ends_on": date(2027, 12, 31), "budget_yuan": "450,000.50",
              "purchased_hours": 3000.0, "category_ids": tuple(factories.category(c).id for c in categories)}
    values.update(changes)
    return orgs.ContractInput(**values)


def audit_actions() -> list[str]:
    return list(db.session.scalars(sa.select(AuditLog.action).order_by(AuditLog.id)))


def unit_provider(name: str = "滕州市民政局", town_code: str = "longquan"):
    return orgs.create_unit(orgs.UnitInput(name=name, unit_type="department", department="滕州市人民政府",
                                           monthly_visit_quota=2, place=place(town_code)), city()).provider


# ------------------------------------------------------------------ agencies
def test_a_new_agency_is_approved_with_its_towns_place_and_a_masked_encrypted_phone():
    actor = city()
    agency = orgs.create_agency(agency_input(credit_code=" ９１３５０１００m０００１００y４３ "), actor, "10.0.0.1")
    provider = agency.provider
    assert provider.kind == ProviderKind.agency and provider.status == ProviderStatus.approved
    assert agency.credit_code == CODE
    assert [t.code for t in provider.towns_covered] == ["longquan", "jinghe"]
    longquan = factories.town("longquan")
    assert (provider.town_id, provider.lat, provider.lon) == (longquan.id, longquan.lat, longquan.lon)
    assert agency.contact_phone_masked == "139****5678" and crypto.decrypt(agency.contact_phone_enc) == PHONE
    row = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "agency_created"))
    assert row.object_id == provider.id and row.ip == "10.0.0.1" and PHONE not in str(row.detail)


def test_every_bad_agency_field_is_reported_at_once_and_nothing_is_written():
    bad = agency_input(name="x", credit_code="91350100M000100Y44", licence_no="1", contact_name="",
                       contact_phone="12345", place=orgs.Place(town_id=999, town_ids=(), lat=math.nan, lon=1.0))
    with pytest.raises(orgs.OrganisationInvalid) as refused:
        orgs.create_agency(bad, city())
    assert set(refused.value.errors) == {"name", "credit_code", "licence_no", "contact_name", "contact_phone",
                                         "town_id", "town_ids", "lat"}
    assert "校验" in refused.value.errors["credit_code"]  # the check character, in the user's language
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Agency)) == 0


@pytest.mark.parametrize(("code", "reason"), [("91350100M000100Y4", "length"), ("91350100M000100I43", "characters"),
                                              ("9135A100M000100Y43", "division"), ("91350100M000100Y44", "check")])
def test_each_kind_of_bad_credit_code_has_its_own_message(code, reason):
    with pytest.raises(orgs.OrganisationInvalid) as refused:
        orgs.create_agency(agency_input(credit_code=code), city())
    messages = {"length": "18", "characters": "I", "division": "3", "check": "校验"}
    assert messages[reason] in refused.value.errors["credit_code"]


def test_a_place_far_from_the_home_town_and_half_a_place_are_refused():
    with pytest.raises(orgs.OrganisationInvalid) as far:
        orgs.create_agency(agency_input(place=place("longquan", lat=39.9, lon=116.4)), city())
    with pytest.raises(orgs.OrganisationInvalid) as half:
        orgs.create_agency(agency_input(place=place("longquan", lat=35.1, lon=None)), city())
    assert set(far.value.errors) == {"lat"} and set(half.value.errors) == {"lat"}


def test_a_duplicate_credit_code_or_licence_is_refused_naming_the_holder():
    actor = city()
    orgs.create_agency(agency_input(), actor)
    with pytest.raises(orgs.OrganisationInvalid) as refused:
        orgs.create_agency(agency_input(name="另一家机构"), actor)
    assert set(refused.value.errors) == {"credit_code", "licence_no"}
    assert "滕州市新星社会工作服务中心" in refused.value.errors["credit_code"]


def test_the_unique_index_catches_a_duplicate_the_check_missed():
    actor = city()
    orgs.create_agency(agency_input(), actor)
    db.session.add(Agency(provider_id=factories.provider(ProviderKind.agency).id, credit_code=CODE,
                               licence_no="other", contact_name="某"))
    with pytest.raises(sa.exc.IntegrityError):
        db.session.flush()


def test_editing_keeps_the_phone_when_left_empty_and_audits_the_changed_fields():
    actor = city()
    agency = orgs.create_agency(agency_input(), actor)
    orgs.update_agency(agency, agency_input(name="滕州市新星社工中心", contact_phone=None, credit_code=OTHER_CODE,
                                            place=place("binhu")), actor)
    assert crypto.decrypt(agency.contact_phone_enc) == PHONE
    assert agency.credit_code == OTHER_CODE and agency.provider.name == "滕州市新星社工中心"
    binhu = factories.town("binhu")
    assert (agency.provider.lat, agency.provider.lon) == (binhu.lat, binhu.lon)  # moved town: its centre
    row = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "agency_updated"))
    assert row.detail["changed"] == ["credit_code", "lat", "lon", "name", "town_id", "towns"]


def test_editing_to_its_own_code_is_not_a_duplicate():
    actor = city()
    agency = orgs.create_agency(agency_input(), actor)
    orgs.update_agency(agency, agency_input(contact_name="王强", contact_phone=None), actor)
    assert agency.contact_name == "王强"


def test_town_staff_cannot_register_organisations():
    with pytest.raises(ServiceError) as refused:
        orgs.create_agency(agency_input(), town_staff())
    assert refused.value.status == 403


# ------------------------------------------------------------------ pairing units
def test_a_unit_is_registered_approved_with_type_department_towns_and_quota():
    actor = city()
    unit = orgs.create_unit(orgs.UnitInput(name="国网滕州市供电公司", unit_type="enterprise", department="国网枣庄供电公司",
                                           monthly_visit_quota=2, place=place("jinghe", "longquan")), actor)
    assert unit.provider.status == ProviderStatus.approved and unit.provider.kind == ProviderKind.unit
    assert (unit.unit_type, unit.department, unit.monthly_visit_quota) == ("enterprise", "国网枣庄供电公司", 2)
    orgs.update_unit(unit, orgs.UnitInput(name="国网滕州市供电公司", unit_type="enterprise", department="",
                                          monthly_visit_quota=3, place=place("jinghe")), actor)
    assert unit.department is None and unit.monthly_visit_quota == 3
    assert audit_actions() == ["unit_created", "unit_updated"]


def test_every_bad_unit_field_is_reported_at_once():
    bad = orgs.UnitInput(name="", unit_type="club", department="x" * 101, monthly_visit_quota=0,
                         place=orgs.Place(town_id=None, town_ids=(-1,)))
    with pytest.raises(orgs.OrganisationInvalid) as refused:
        orgs.create_unit(bad, city())
    assert set(refused.value.errors) == {"name", "unit_type", "department", "monthly_visit_quota", "town_id",
                                         "town_ids"}


# ------------------------------------------------------------------ contracts
def test_a_contract_stores_cents_hours_and_categories_and_starts_unused():
    actor = city()
    agency = orgs.create_agency(agency_input(), actor)
    contract = orgs.create_contract(agency, contract_input(), actor)
    assert (contract.budget_cents, contract.purchased_hours, contract.used_hours) == (45_000_050, 3000.0, 0.0)
    assert [c.code for c in contract.categories] == ["counselling", "emotional_comfort"]
    assert "contract_created" in audit_actions()


@pytest.mark.parametrize(("text", "cents"), [("450000", 45_000_000), ("1,234.5", 123_450), ("￥99.99", 9_999),
                                             ("0", None), ("-5", None), ("1.234", None), ("abc", None),
                                             ("20000000.01", None), ("20000000", 2_000_000_000), ("", None)])
def test_budgets_are_read_in_yuan_with_at_most_two_decimals(text, cents):
    assert orgs.budget_cents(text) == cents


def test_every_bad_contract_field_is_reported_at_once():
    actor = city()
    agency = orgs.create_agency(agency_input(), actor)
    bad = contract_input(code="", title="x", starts_on=None, ends_on=None, budget_yuan="-1",
                         purchased_hours=math.nan, category_ids=(999,))
    with pytest.raises(orgs.OrganisationInvalid) as refused:
        orgs.create_contract(agency, bad, actor)
    assert set(refused.value.errors) == {"code", "title", "starts_on", "ends_on", "budget_yuan", "purchased_hours",
                                         "category_ids"}
    with pytest.raises(orgs.OrganisationInvalid) as backwards:
        orgs.create_contract(agency, contract_input(starts_on=date(2027, 6, 1), ends_on=date(2027, 5, 31)), actor)
    assert set(backwards.value.errors) == {"ends_on"}


def test_an_overlapping_period_for_a_shared_category_is_refused_with_the_names():
    actor = city()
    agency = orgs.create_agency(agency_input(), actor)
    orgs.create_contract(agency, contract_input(), actor)
    with pytest.raises(orgs.OrganisationInvalid) as refused:
        orgs.create_contract(agency, contract_input(code="TZMZ-GM-2027-002", starts_on=date(2027, 12, 31),
                                                    ends_on=date(2028, 6, 30), categories=("emotional_comfort",)),
                             actor, zh=True)
    message = refused.value.errors["starts_on"]
    assert "TZMZ-GM-2027-001" in message and "精神慰藉" in message and "2027-12-31" in message
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Contract)) == 1


def test_other_categories_or_a_following_period_may_be_contracted_and_other_agencies_are_independent():
    actor = city()
    agency = orgs.create_agency(agency_input(), actor)
    orgs.create_contract(agency, contract_input(), actor)
    orgs.create_contract(agency, contract_input(code="GM-B", categories=("legal_aid",)), actor)
    orgs.create_contract(agency, contract_input(code="GM-C", starts_on=date(2028, 1, 1), ends_on=date(2028, 12, 31)),
                         actor)
    other = orgs.create_agency(agency_input(name="另一家", credit_code=OTHER_CODE, licence_no="L-0002"), actor)
    orgs.create_contract(other, contract_input(code="GM-D"), actor)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Contract)) == 4


def test_editing_a_contract_checks_overlap_against_the_others_only():
    actor = city()
    agency = orgs.create_agency(agency_input(), actor)
    first = orgs.create_contract(agency, contract_input(), actor)
    second = orgs.create_contract(agency, contract_input(code="GM-B", starts_on=date(2028, 1, 1),
                                                         ends_on=date(2028, 12, 31)), actor)
    orgs.update_contract(first, contract_input(title="改名后的项目", purchased_hours=3500.0), actor)
    assert first.title == "改名后的项目" and first.purchased_hours == 3500.0
    with pytest.raises(orgs.OrganisationInvalid) as refused:
        orgs.update_contract(second, contract_input(code="GM-B", starts_on=date(2027, 10, 1), ends_on=date(2028, 12, 31)),
                             actor)
    assert "TZMZ-GM-2027-001" in refused.value.errors["starts_on"]


def test_purchased_hours_cannot_go_below_the_hours_used_and_hours_used_never_change_here():
    actor = city()
    agency = orgs.create_agency(agency_input(), actor)
    contract = orgs.create_contract(agency, contract_input(), actor)
    db.session.execute(sa.update(Contract).where(Contract.id == contract.id).values(used_hours=1200.0))
    db.session.expire_all()
    with pytest.raises(orgs.OrganisationInvalid) as refused:
        orgs.update_contract(contract, contract_input(purchased_hours=1199.5), actor)
    assert "1200.0" in refused.value.errors["purchased_hours"]
    orgs.update_contract(contract, contract_input(purchased_hours=1200.0), actor)
    assert (contract.purchased_hours, contract.used_hours) == (1200.0, 1200.0)


def test_a_charge_landing_after_the_check_still_cannot_slip_under_the_new_hours(monkeypatch):
    actor = city()
    agency = orgs.create_agency(agency_input(), actor)
    contract = orgs.create_contract(agency, contract_input(), actor)
    real_check = orgs.contracts._check_contract

    def check_then_charge(*args, **kwargs):
        clean = real_check(*args, **kwargs)
        db.session.execute(sa.update(Contract).where(Contract.id == contract.id).values(used_hours=2000.0))
        return clean

    monkeypatch.setattr(orgs.contracts, "_check_contract", check_then_charge)
    with pytest.raises(orgs.OrganisationInvalid) as refused:
        orgs.update_contract(contract, contract_input(purchased_hours=1500.0), actor)
    assert "2000.0" in refused.value.errors["purchased_hours"]
    assert contract.purchased_hours == 3000.0


# ------------------------------------------------------------------ pairings
def pairing_input(household, unit, **changes) -> orgs.PairingInput:
    values = {"household_code": household.code, "unit_provider_id": unit.id, "cadre_id": None,
              "monthly_visit_quota": None, "quota_given": False, "since": today() - timedelta(days=30)}
    values.update(changes)
    return orgs.PairingInput(**values)


def cadre(unit) -> ProviderMember:
    member = ProviderMember(provider_id=unit.id, role=MemberRole.cadre, name="帮扶干部")
    db.session.add(member)
    db.session.flush()
    return member


def test_town_staff_pair_their_households_once_per_unit_and_may_pair_again_after_the_end():
    unit = unit_provider()
    staff = town_staff()
    household = factories.household("longquan")
    member = cadre(unit)
    pairing = orgs.create_pairing(pairing_input(household, unit, cadre_id=member.id, monthly_visit_quota=3,
                                                quota_given=True), staff, today())
    assert (pairing.cadre_id, pairing.monthly_visit_quota, pairing.ended_on) == (member.id, 3, None)
    with pytest.raises(orgs.OrganisationInvalid) as twice:
        orgs.create_pairing(pairing_input(household, unit), staff, today())
    assert "滕州市民政局" in twice.value.errors["household_code"]
    orgs.end_pairing(pairing, today(), staff, today())
    again = orgs.create_pairing(pairing_input(household, unit, since=today()), staff, today())
    assert again.id != pairing.id
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Pairing)) == 2  # the ended one is kept
    assert audit_actions()[-3:] == ["pairing_created", "pairing_ended", "pairing_created"]


def test_the_database_refuses_a_second_active_pairing_of_one_unit_and_household():
    unit = unit_provider()
    household = factories.household()
    db.session.add(Pairing(provider_id=unit.id, household_id=household.id, since=today()))
    db.session.flush()
    db.session.add(Pairing(provider_id=unit.id, household_id=household.id, since=today()))
    with pytest.raises(sa.exc.IntegrityError):
        db.session.flush()


def test_town_staff_cannot_pair_a_household_of_another_town():
    unit = unit_provider()
    elsewhere = factories.household("jinghe")
    with pytest.raises(orgs.OrganisationInvalid) as refused:
        orgs.create_pairing(pairing_input(elsewhere, unit), town_staff(), today())
    assert set(refused.value.errors) == {"household_code"}
    assert orgs.get_pairing(orgs.create_pairing(pairing_input(elsewhere, unit), city(), today()).id,
                            town_staff("longquan", "town-other")) is None


def test_every_bad_pairing_field_is_reported_at_once():
    unit = unit_provider()
    other_unit = unit_provider("滕州市财政局")
    stranger = cadre(other_unit)
    bad = orgs.PairingInput(household_code="NOPE", unit_provider_id=unit.id, cadre_id=stranger.id,
                            monthly_visit_quota=None, quota_given=True, since=today() + timedelta(days=1))
    with pytest.raises(orgs.OrganisationInvalid) as refused:
        orgs.create_pairing(bad, town_staff(), today())
    assert set(refused.value.errors) == {"household_code", "cadre_id", "monthly_visit_quota", "since"}
    with pytest.raises(orgs.OrganisationInvalid) as no_unit:
        orgs.create_pairing(pairing_input(factories.household(), unit, unit_provider_id=None), town_staff("longquan", "t2"),
                            today())
    assert set(no_unit.value.errors) == {"unit_provider_id"}


def test_a_suspended_unit_takes_no_new_pairing():
    unit = unit_provider()
    unit.status = ProviderStatus.suspended
    with pytest.raises(orgs.OrganisationInvalid) as refused:
        orgs.create_pairing(pairing_input(factories.household(), unit), town_staff(), today())
    assert set(refused.value.errors) == {"unit_provider_id"}


def test_ending_checks_the_day_and_happens_once():
    unit = unit_provider()
    staff = town_staff()
    pairing = orgs.create_pairing(pairing_input(factories.household(), unit), staff, today())
    for day in (None, today() + timedelta(days=1), pairing.since - timedelta(days=1)):
        with pytest.raises(orgs.OrganisationInvalid):
            orgs.end_pairing(pairing, day, staff, today())
    orgs.end_pairing(pairing, today(), staff, today())
    with pytest.raises(ServiceError):
        orgs.end_pairing(pairing, today(), staff, today())
    with pytest.raises(ServiceError):
        orgs.update_pairing(pairing, None, 2, True, staff)
    assert pairing.ended_on == today()


def test_a_pairings_own_quota_overrides_the_units_in_the_quota_count():
    unit = unit_provider()  # the unit's quota is 2
    staff = town_staff()
    own = orgs.create_pairing(pairing_input(factories.household(), unit, monthly_visit_quota=1, quota_given=True),
                              staff, today())
    orgs.create_pairing(pairing_input(factories.household(), unit), staff, today())
    quota = db.session.execute(sa.select(Pairing.id, Pairing.quota()).join(
        PairingUnit, PairingUnit.provider_id == Pairing.provider_id).order_by(Pairing.id)).all()
    assert [q for _id, q in quota] == [1, 2]
    orgs.update_pairing(own, None, None, False, staff)
    assert own.monthly_visit_quota is None
    compliance = quotas.quota_compliance(staff, utcnow())
    assert compliance[0].households == 2 and compliance[0].quota == 2


# ------------------------------------------------------------------ matching
def test_a_newly_registered_agency_with_an_offer_is_ranked_and_dispatchable_like_a_seeded_one():
    actor = city()
    agency = orgs.create_agency(agency_input(), actor)
    start = today().replace(month=1, day=1)
    orgs.create_contract(agency, contract_input(starts_on=start, ends_on=start.replace(month=12, day=31)), actor)
    db.session.add(ProviderMember(provider_id=agency.provider_id, role=MemberRole.social_worker, name="社工",
                                  certificate_level="social_worker"))
    factories.offer(agency.provider, ("emotional_comfort",), ("longquan",), description="精神慰藉 上门陪伴")
    item = factories.item(factories.household("longquan"), "emotional_comfort", description="独居老人需要精神慰藉陪伴")
    staff = town_staff()
    db.session.commit()
    matching.invalidate()
    ranked = matching.rank_item(item)
    assert ranked and ranked[0].provider_id == agency.provider_id
    order = dispatch.dispatch(item, ranked[0], staff, utcnow())
    assert order.provider_id == agency.provider_id


# ------------------------------------------------------------------ demo seed
def test_the_demo_seed_fills_the_new_columns_like_real_registrations(demo):
    from socialforce.platform import uscc
    from socialforce.platform.models import Agency, PairingUnit

    agencies = db.session.scalars(sa.select(Agency)).all()
    assert agencies and all(uscc.is_valid(a.credit_code) for a in agencies)
    assert all(a.contact_phone_masked and "****" in a.contact_phone_masked for a in agencies)
    assert all(a.provider.towns_covered for a in agencies)
    units = db.session.scalars(sa.select(PairingUnit)).all()
    assert all(u.department and u.provider.towns_covered for u in units)
    contracts = db.session.scalars(sa.select(Contract)).all()
    assert contracts and all(c.categories for c in contracts)
    # what the seed wrote passes the pages' own rules: editing a seeded agency unchanged is accepted
    agency = agencies[0]
    provider = agency.provider
    orgs.update_agency(agency, orgs.AgencyInput(
        name=provider.name, credit_code=agency.credit_code, licence_no=agency.licence_no,
        contact_name=agency.contact_name, contact_phone=None,
        place=orgs.Place(provider.town_id, tuple(t.id for t in provider.towns_covered), provider.lat, provider.lon)),
        city())


def test_accepting_an_order_charges_a_contract_that_buys_its_category():
    actor = city()
    agency = orgs.create_agency(agency_input(), actor)
    start = today().replace(month=1, day=1)
    year = {"starts_on": start, "ends_on": start.replace(month=12, day=31)}
    orgs.create_contract(agency, contract_input(code="GM-LEGAL", categories=("legal_aid",), **year), actor)
    worker = ProviderMember(provider_id=agency.provider_id, role=MemberRole.social_worker, name="社工",
                            certificate_level="social_worker")
    db.session.add(worker)
    item = factories.item(factories.household("longquan"), "emotional_comfort", description="精神慰藉")
    staff = town_staff()
    order = dispatch.dispatch(item, dispatch.Choice(provider_id=agency.provider_id), staff, utcnow())
    with pytest.raises(ServiceError):
        dispatch.accept(order, staff, worker.id)  # its only contract buys legal aid
    comfort = orgs.create_contract(agency, contract_input(code="GM-COMFORT", categories=("emotional_comfort",),
                                                          **year), actor)
    dispatch.accept(order, staff, worker.id)
    db.session.refresh(comfort)
    assert order.contract_id == comfort.id and comfort.used_hours == order.expected_hours
