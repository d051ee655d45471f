"""The organisation pages: city staff register and edit agencies, units and contracts; staff manage the pairings
of their own households. Bad input in every field is shown at once next to its field with what was typed kept
(400, nothing written); lists filter and page; town staff are kept out of the register and other towns'
pairings; every change shows in the audit log."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from socialforce.platform import uscc
from socialforce.platform.extensions import db
from socialforce.platform.localtime import today
from socialforce.platform.models import (
    Agency,
    AuditLog,
    Contract,
    MemberRole,
    Pairing,
    PairingUnit,
    Provider,
    ProviderMember,
    ProviderStatus,
    Role,
)
from tests import factories
from tests.conftest import csrf_token, login

CODE = "91350100M000100Y43"
PHONE = "13912345678"


@pytest.fixture
def staff(app):
    """City staff and the staff of 龙泉街道 and 荆河街道 (committed)."""
    users = {"city": factories.user("city", Role.city_staff),
             "town1": factories.user("town1", Role.town_staff, town_id=factories.town("longquan").id),
             "town2": factories.user("town2", Role.town_staff, town_id=factories.town("jinghe").id)}
    db.session.commit()
    return users


def as_user(client, username: str):
    assert login(client, username).status_code == 200
    return client


def post(client, path: str, data: dict, follow: bool = False):
    token = csrf_token(client, path if not path.endswith("/end") else path.rsplit("/", 1)[0])
    return client.post(path, data={"csrf_token": token, **data}, follow_redirects=follow)


def agency_form(**changes) -> dict:
    longquan, jinghe = factories.town("longquan"), factories.town("jinghe")
    form = {"name": "滕州市新星社会工作服务中心", "credit_code": CODE, "licence_no": "滕民证字第0099号",
            "contact_name": "李娜", "contact_phone": PHONE, "town_id": str(longquan.id),
            "town_ids": [str(longquan.id), str(jinghe.id)], "lat": "", "lon": ""}
    form.update(changes)
    return form


def contract_form(**changes) -> dict:
    form = {"code": "TZMZ-GM-2027-001", "title": "2027年困难家庭服务类政府购买服务项目", "starts_on": "2027-01-01",
            "ends_on": "2027-12-31", "budget_yuan": "450000", "purchased_hours": "3000",
            "category_ids": [str(factories.category("counselling").id),
                             str(factories.category("emotional_comfort").id)]}
    form.update(changes)
    return form


def field_error(html: str, name: str) -> str:
    match = re.search(rf'id="{name}-error">([^<]*)<', html)
    return match.group(1) if match else ""


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def audit_actions() -> list[str]:
    return list(db.session.scalars(sa.select(AuditLog.action).order_by(AuditLog.id)))


# ------------------------------------------------------------------ agencies
def test_city_staff_register_an_agency_and_see_it_listed_with_a_masked_phone(client, staff):
    as_user(client, "city")
    response = post(client, "/staff/organisations/agencies/new", agency_form(credit_code="91350100m000100y43"))
    assert response.status_code == 303
    agency = db.session.scalar(sa.select(Agency))
    assert response.headers["Location"].endswith(f"/staff/organisations/agencies/{agency.id}")
    assert agency.credit_code == CODE and agency.provider.status == ProviderStatus.approved
    listing = client.get("/staff/organisations/agencies").get_data(as_text=True)
    assert "滕州市新星社会工作服务中心" in listing and "139****5678" in listing and PHONE not in listing
    page = client.get(f"/staff/organisations/agencies/{agency.id}").get_data(as_text=True)
    assert CODE in page and "荆河街道" in page and PHONE not in page
    assert "agency_created" in client.get("/staff/audit").get_data(as_text=True)


def test_every_bad_agency_field_is_shown_at_once_next_to_it_with_what_was_typed(client, staff):
    as_user(client, "city")
    bad = agency_form(name="新", credit_code="91350100M000100Y44", licence_no="1", contact_name="",
                      contact_phone="12345", town_id="9999", town_ids=["abc"], lat="north", lon="117")
    response = post(client, "/staff/organisations/agencies/new", bad)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    for name in ("name", "credit_code", "licence_no", "contact_name", "contact_phone", "town_id", "town_ids", "lat"):
        assert field_error(html, name), name
    assert "校验码" in field_error(html, "credit_code")
    assert 'value="91350100M000100Y44"' in html and 'value="新"' in html  # what was typed stays
    assert count(Provider) == 0 and count(Agency) == 0


def test_a_duplicate_credit_code_is_a_message_on_the_field_not_a_500(client, staff):
    as_user(client, "city")
    assert post(client, "/staff/organisations/agencies/new", agency_form()).status_code == 303
    response = post(client, "/staff/organisations/agencies/new", agency_form(name="另一家机构", licence_no="L-0002"))
    assert response.status_code == 400
    assert "滕州市新星社会工作服务中心" in field_error(response.get_data(as_text=True), "credit_code")
    assert count(Agency) == 1


def test_editing_an_agency_keeps_its_phone_and_is_audited(client, staff):
    as_user(client, "city")
    post(client, "/staff/organisations/agencies/new", agency_form())
    agency = db.session.scalar(sa.select(Agency))
    form = client.get(f"/staff/organisations/agencies/{agency.id}/edit").get_data(as_text=True)
    assert "139****5678" in form and PHONE not in form
    response = post(client, f"/staff/organisations/agencies/{agency.id}/edit",
                    agency_form(name="滕州市新星社工中心", contact_phone=""))
    assert response.status_code == 303
    db.session.expire_all()
    agency = db.session.scalar(sa.select(Agency))
    assert agency.provider.name == "滕州市新星社工中心" and agency.contact_phone_masked == "139****5678"
    assert audit_actions()[-1] == "agency_updated"


def test_the_agency_list_filters_and_pages(client, staff, app):
    for n in range(27):
        provider = factories.provider(factories.ProviderKind.agency, f"机构{n:02d}",
                                      "jinghe" if n == 3 else "longquan")
        db.session.add(Agency(provider_id=provider.id, licence_no=f"L{n:04d}", contact_name="联系人"))
    db.session.commit()
    as_user(client, "city")
    first = client.get("/staff/organisations/agencies").get_data(as_text=True)
    second = client.get("/staff/organisations/agencies?page=2").get_data(as_text=True)
    assert "机构00" in first and "机构26" not in first and "机构26" in second
    jinghe = client.get(f"/staff/organisations/agencies?town={factories.town('jinghe').id}").get_data(as_text=True)
    assert "机构03" in jinghe and "机构04" not in jinghe
    assert "机构12" in client.get("/staff/organisations/agencies?q=L0012").get_data(as_text=True)


# ------------------------------------------------------------------ contracts
def new_agency(client) -> Agency:
    post(client, "/staff/organisations/agencies/new", agency_form())
    return db.session.scalar(sa.select(Agency))


def test_contracts_are_recorded_listed_with_hours_used_and_an_overlap_is_refused_with_the_names(client, staff):
    as_user(client, "city")
    agency = new_agency(client)
    base = f"/staff/organisations/agencies/{agency.id}"
    assert post(client, f"{base}/contracts/new", contract_form(budget_yuan="450,000.50")).status_code == 303
    contract = db.session.scalar(sa.select(Contract))
    assert (contract.budget_cents, contract.purchased_hours) == (45_000_050, 3000.0)
    listing = client.get(base).get_data(as_text=True)
    assert "450,000.50" in listing and "0.0 / 3000.0" in listing
    response = post(client, f"{base}/contracts/new",
                    contract_form(code="TZMZ-GM-2027-002", starts_on="2027-06-01", ends_on="2028-05-31",
                                  category_ids=[str(factories.category("emotional_comfort").id)]))
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "TZMZ-GM-2027-001" in field_error(html, "starts_on") and "精神慰藉" in field_error(html, "starts_on")
    assert 'value="TZMZ-GM-2027-002"' in html
    assert count(Contract) == 1
    assert "contract_created" in audit_actions()


def test_every_bad_contract_field_is_shown_at_once(client, staff):
    as_user(client, "city")
    agency = new_agency(client)
    bad = {"code": "x", "title": "", "starts_on": "2027-02-30", "ends_on": "9999-12-31", "budget_yuan": "1.234",
           "purchased_hours": "lots", "category_ids": ["0"]}
    response = post(client, f"/staff/organisations/agencies/{agency.id}/contracts/new", bad)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    for name in ("code", "title", "starts_on", "ends_on", "budget_yuan", "purchased_hours", "category_ids"):
        assert field_error(html, name), name
    assert 'value="1.234"' in html and 'value="lots"' in html
    assert count(Contract) == 0


def test_hours_used_are_shown_never_editable_and_purchased_hours_cannot_go_below(client, staff):
    as_user(client, "city")
    agency = new_agency(client)
    post(client, f"/staff/organisations/agencies/{agency.id}/contracts/new", contract_form())
    contract = db.session.scalar(sa.select(Contract))
    db.session.execute(sa.update(Contract).values(used_hours=1200.0))
    db.session.commit()
    form = client.get(f"/staff/organisations/contracts/{contract.id}/edit").get_data(as_text=True)
    assert 'id="used-hours">1200.0<' in form and 'name="used_hours"' not in form
    response = post(client, f"/staff/organisations/contracts/{contract.id}/edit",
                    contract_form(purchased_hours="1000", used_hours="0"))
    assert response.status_code == 400 and "1200.0" in field_error(response.get_data(as_text=True), "purchased_hours")
    db.session.expire_all()
    assert db.session.get(Contract, contract.id).purchased_hours == 3000.0
    assert post(client, f"/staff/organisations/contracts/{contract.id}/edit",
                contract_form(purchased_hours="2500", used_hours="0")).status_code == 303
    db.session.expire_all()
    assert (db.session.get(Contract, contract.id).purchased_hours,
            db.session.get(Contract, contract.id).used_hours) == (2500.0, 1200.0)


# ------------------------------------------------------------------ pairing units
def unit_form(**changes) -> dict:
    longquan = factories.town("longquan")
    form = {"name": "滕州市民政局", "unit_type": "department", "department": "滕州市人民政府",
            "monthly_visit_quota": "2", "town_id": str(longquan.id), "town_ids": [str(longquan.id)], "lat": "",
            "lon": ""}
    form.update(changes)
    return form


def test_units_are_registered_edited_and_bad_input_shown_per_field(client, staff):
    as_user(client, "city")
    response = post(client, "/staff/organisations/units/new",
                    unit_form(name="", unit_type="club", department="x" * 101, monthly_visit_quota="99",
                              town_ids=[]))
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    for name in ("name", "unit_type", "department", "monthly_visit_quota", "town_ids"):
        assert field_error(html, name), name
    assert count(PairingUnit) == 0
    assert post(client, "/staff/organisations/units/new", unit_form()).status_code == 303
    unit = db.session.scalar(sa.select(PairingUnit))
    assert post(client, f"/staff/organisations/units/{unit.id}/edit",
                unit_form(unit_type="party", monthly_visit_quota="3")).status_code == 303
    db.session.expire_all()
    assert (unit.unit_type, unit.monthly_visit_quota) == ("party", 3)
    listing = client.get("/staff/organisations/units?type=party").get_data(as_text=True)
    assert "滕州市民政局" in listing
    assert "滕州市民政局" not in client.get("/staff/organisations/units?type=enterprise").get_data(as_text=True)
    assert audit_actions()[-2:] == ["unit_created", "unit_updated"]


UNIT_CODE = uscc.make("11370481MB0012345")


def test_a_units_credit_code_is_registered_checked_shown_and_edited(client, staff):
    as_user(client, "city")
    wrong = UNIT_CODE[:17] + ("0" if UNIT_CODE[17] != "0" else "1")
    response = post(client, "/staff/organisations/units/new", unit_form(credit_code=wrong))
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and field_error(html, "credit_code")
    assert f'value="{wrong}"' in html  # what was typed is kept
    assert count(PairingUnit) == 0
    typed = " " + UNIT_CODE.lower()[:9] + " " + UNIT_CODE.lower()[9:]  # lower case and spaces, as pasted
    assert post(client, "/staff/organisations/units/new", unit_form(credit_code=typed)).status_code == 303
    unit = db.session.scalar(sa.select(PairingUnit))
    assert unit.credit_code == UNIT_CODE
    detail = client.get(f"/staff/providers/{unit.provider_id}").get_data(as_text=True)
    assert UNIT_CODE in detail
    edit = client.get(f"/staff/organisations/units/{unit.id}/edit").get_data(as_text=True)
    assert f'value="{UNIT_CODE}"' in edit
    response = post(client, "/staff/organisations/units/new", unit_form(name="滕州市财政局", credit_code=UNIT_CODE))
    assert response.status_code == 400 and "滕州市民政局" in field_error(response.get_data(as_text=True), "credit_code")
    assert count(PairingUnit) == 1
    assert post(client, "/staff/organisations/units/new", unit_form(name="滕州市财政局")).status_code == 303
    other = db.session.scalar(sa.select(PairingUnit).where(PairingUnit.id != unit.id))
    assert other.credit_code is None  # optional: a unit without a code is found by name on import
    response = post(client, f"/staff/organisations/units/{other.id}/edit", unit_form(name="滕州市财政局",
                                                                                  credit_code=UNIT_CODE))
    assert response.status_code == 400 and field_error(response.get_data(as_text=True), "credit_code")
    db.session.expire_all()
    assert other.credit_code is None
    assert post(client, f"/staff/organisations/units/{unit.id}/edit", unit_form(credit_code="")).status_code == 303
    db.session.expire_all()
    assert unit.credit_code is None
    changed = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "unit_updated")).all()[-1]
    assert "credit_code" in str(changed.detail)


# ------------------------------------------------------------------ pairings
@pytest.fixture
def unit_and_households(staff):
    """An approved unit with a cadre, a household in each of 龙泉街道 and 荆河街道 (committed)."""
    unit = factories.provider(factories.ProviderKind.unit, "滕州市财政局")
    db.session.add(PairingUnit(provider_id=unit.id, unit_type="department", monthly_visit_quota=1))
    cadre = ProviderMember(provider_id=unit.id, role=MemberRole.cadre, name="王干部")
    db.session.add(cadre)
    mine, theirs = factories.household("longquan"), factories.household("jinghe")
    db.session.commit()
    return unit, cadre, mine, theirs


def pairing_form(household, unit, **changes) -> dict:
    form = {"household_code": household.code, "unit_provider_id": str(unit.id), "cadre_id": "",
            "monthly_visit_quota": "", "since": (today() - timedelta(days=10)).isoformat()}
    form.update(changes)
    return form


def test_town_staff_pair_their_household_once_edit_and_end_it(client, unit_and_households):
    unit, cadre, mine, _theirs = unit_and_households
    as_user(client, "town1")
    prefilled = client.get(f"/staff/pairings/new?household={mine.id}").get_data(as_text=True)
    assert f'value="{mine.code}"' in prefilled
    assert post(client, "/staff/pairings/new", pairing_form(mine, unit, cadre_id=str(cadre.id))).status_code == 303
    again = post(client, "/staff/pairings/new", pairing_form(mine, unit))
    assert again.status_code == 400 and "滕州市财政局" in field_error(again.get_data(as_text=True), "household_code")
    pairing = db.session.scalar(sa.select(Pairing))
    assert post(client, f"/staff/pairings/{pairing.id}", {"cadre_id": "", "monthly_visit_quota": "4"}).status_code == 303
    ended = post(client, f"/staff/pairings/{pairing.id}/end", {"ended_on": today().isoformat(), "confirmed": "1"})
    assert ended.status_code == 303
    db.session.expire_all()
    pairing = db.session.scalar(sa.select(Pairing))
    assert (pairing.monthly_visit_quota, pairing.cadre_id, pairing.ended_on) == (4, None, today())
    listing = client.get("/staff/pairings?state=ended").get_data(as_text=True)
    assert mine.code in listing
    assert mine.code not in client.get("/staff/pairings?state=active").get_data(as_text=True)
    audit = client.get("/staff/audit").get_data(as_text=True)
    assert "pairing_created" in audit and "pairing_ended" in audit


def test_every_bad_pairing_field_is_shown_at_once(client, unit_and_households):
    unit, _cadre, _mine, theirs = unit_and_households
    as_user(client, "town1")
    response = post(client, "/staff/pairings/new",
                    {"household_code": theirs.code, "unit_provider_id": "2147483648", "cadre_id": "12",
                     "monthly_visit_quota": "0", "since": "tomorrow"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    for name in ("household_code", "unit_provider_id", "monthly_visit_quota", "since"):
        assert field_error(html, name), name
    assert f'value="{theirs.code}"' in html
    end = post(client, "/staff/pairings/new", pairing_form(_mine, unit))
    assert end.status_code == 303
    pairing = db.session.scalar(sa.select(Pairing))
    refused = post(client, f"/staff/pairings/{pairing.id}/end", {"ended_on": (today() + timedelta(days=1)).isoformat(),
                                                                  "confirmed": "1"})
    assert refused.status_code == 400 and field_error(refused.get_data(as_text=True), "ended_on")
    assert count(Pairing) == 1


# ------------------------------------------------------------------ access
def test_town_staff_are_kept_out_of_the_register_and_other_towns_pairings(client, unit_and_households):
    unit, _cadre, mine, theirs = unit_and_households
    db.session.add(Agency(provider_id=factories.provider(factories.ProviderKind.agency).id, licence_no="L-1",
                          contact_name="某"))
    other = Pairing(provider_id=unit.id, household_id=theirs.id, since=today())
    db.session.add(other)
    db.session.commit()
    agency = db.session.scalar(sa.select(Agency))
    unit_row = db.session.scalar(sa.select(PairingUnit))
    as_user(client, "town1")
    for path in ("/staff/organisations/agencies", "/staff/organisations/agencies/new",
                 f"/staff/organisations/agencies/{agency.id}", f"/staff/organisations/agencies/{agency.id}/edit",
                 f"/staff/organisations/agencies/{agency.id}/contracts/new", "/staff/organisations/units",
                 "/staff/organisations/units/new", f"/staff/organisations/units/{unit_row.id}/edit"):
        assert client.get(path).status_code == 403, path
    assert post(client, "/staff/pairings/new", pairing_form(mine, unit)).status_code == 303
    token = csrf_token(client, "/staff/pairings")
    assert client.get(f"/staff/pairings/{other.id}").status_code == 404
    assert client.post(f"/staff/pairings/{other.id}/end", data={"csrf_token": token,
                                                                "ended_on": today().isoformat()}).status_code == 404
    assert theirs.code not in client.get("/staff/pairings").get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Pairing, other.id).ended_on is None
    assert "/staff/organisations/agencies" not in client.get("/staff/").get_data(as_text=True)  # not in the nav


def test_other_portals_cannot_open_the_organisation_pages(client, unit_and_households):
    unit = unit_and_households[0]
    factories.user("unit-admin", Role.unit_admin, provider_id=unit.id)
    db.session.commit()
    as_user(client, "unit-admin")
    for path in ("/staff/organisations/agencies", "/staff/pairings", "/staff/pairings/new"):
        assert client.get(path).status_code == 403, path


def test_an_edit_keeps_the_place_unless_the_town_changes_or_a_place_is_typed(client, staff):
    as_user(client, "city")
    post(client, "/staff/organisations/units/new", unit_form(lat="35.0901", lon="117.1702"))
    unit = db.session.scalar(sa.select(PairingUnit))
    form = client.get(f"/staff/organisations/units/{unit.id}/edit").get_data(as_text=True)
    assert "35.090100" in form and 'name="lat" value=""' in form.replace('id="lat" ', "")
    post(client, f"/staff/organisations/units/{unit.id}/edit", unit_form(department="改"))
    db.session.expire_all()
    provider = db.session.get(Provider, unit.provider_id)
    assert (provider.lat, provider.lon) == (35.0901, 117.1702)
    binhu = factories.town("binhu")
    post(client, f"/staff/organisations/units/{unit.id}/edit", unit_form(town_id=str(binhu.id)))
    db.session.expire_all()
    provider = db.session.get(Provider, unit.provider_id)
    assert (provider.town_id, provider.lat, provider.lon) == (binhu.id, binhu.lat, binhu.lon)
