"""Imports of villages, social-work agencies, pairing units, government-purchase contracts and pairings."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from socialforce.platform import crypto
from socialforce.platform.extensions import db
from socialforce.platform.imports.rules import KINDS
from socialforce.platform.models import (
    Agency,
    AuditLog,
    Contract,
    Household,
    Pairing,
    PairingUnit,
    Provider,
    ProviderStatus,
    Village,
)
from socialforce.platform.services import imports as service
from socialforce.platform.services import organisations as orgs
from tests.fixtures.import_files import credit_code, organisations_workbook
from tests.platform.test_import_kinds import check, count, errors, run
from tests.platform.test_import_kinds import world as world  # noqa: F401 - the shared fixture

AGENCY_A, AGENCY_B, UNIT_A = credit_code(1), credit_code(2), credit_code(3, "11")


def agency(code: str = AGENCY_A, **changes) -> list:
    row = {"name": "滕州市益善社会工作服务中心", "credit_code": code, "licence_no": "鲁滕民证字第0001号",
           "contact_name": "王主任", "contact_phone": "13805321234", "town": "龙泉街道", "towns": "龙泉街道、荆河街道"}
    row.update(changes)
    return list(row.values())


def unit(code: str = UNIT_A, **changes) -> list:
    row = {"name": "滕州市民政局", "credit_code": code, "unit_type": "党政机关", "department": "滕州市人民政府",
           "town": "荆河街道", "towns": "荆河街道", "quota": 2}
    row.update(changes)
    return list(row.values())


def contract(code: str = "TZ-2024-001", **changes) -> list:
    row = {"code": code, "agency": AGENCY_A, "title": "困难家庭精神慰藉服务项目", "starts_on": "2024-01-01",
           "ends_on": "2024-12-31", "budget": "450000.00", "hours": 3000, "categories": "精神慰藉、生活照料"}
    row.update(changes)
    return list(row.values())


def pairing(household: str = "HDB1", **changes) -> list:
    row = {"unit": UNIT_A, "household": household, "since": "2024-03-01", "quota": ""}
    row.update(changes)
    return list(row.values())


def full_file(**changes) -> bytes:
    sheets = {"agencies": [agency(), agency(AGENCY_B, name="滕州市阳光社工服务社", licence_no="鲁滕民证字第0002号")],
              "units": [unit()],
              "contracts": [contract(), contract("TZ-2024-002", agency=AGENCY_B, categories="学业辅导")],
              "pairings": [pairing(), pairing("H001")],
              "households": [("H001", "荆河街道", "平安社区", "赵六", "平安社区8号", "")]}
    sheets.update(changes)
    return organisations_workbook(**sheets)


def test_organisations_contracts_and_pairings_are_registered_through_the_services(world):
    status = run(full_file(), world["city"])
    assert status["state"] == "done", status.get("errors")
    assert {k: status["written"][k] for k in ("agencies", "units", "contracts", "pairings", "households")} == {
        "agencies": 2, "units": 1, "contracts": 2, "pairings": 2, "households": 1}
    saved = db.session.scalar(sa.select(Agency).where(Agency.credit_code == AGENCY_A))
    assert saved.provider.name == "滕州市益善社会工作服务中心" and saved.provider.status == ProviderStatus.approved
    assert [t.name_zh for t in saved.provider.towns_covered] == ["龙泉街道", "荆河街道"]
    assert saved.contact_phone_masked == "138****1234" and crypto.decrypt(saved.contact_phone_enc) == "13805321234"
    first = db.session.scalar(sa.select(Contract).where(Contract.code == "TZ-2024-001"))
    assert first.agency_id == saved.id and first.budget_cents == 45_000_000 and first.purchased_hours == 3000
    assert [c.code for c in first.categories] == ["emotional_comfort", "daily_care"] and first.used_hours == 0
    saved_unit = db.session.scalar(sa.select(PairingUnit).where(PairingUnit.credit_code == UNIT_A))
    assert saved_unit.unit_type == "department" and saved_unit.monthly_visit_quota == 2
    pairs = db.session.scalars(sa.select(Pairing).order_by(Pairing.id)).all()
    households = [db.session.get(Household, p.household_id).code for p in pairs]
    assert households == ["HDB1", "H001"] and {p.provider_id for p in pairs} == {saved_unit.provider_id}
    assert all(p.since == date(2024, 3, 1) and p.monthly_visit_quota is None for p in pairs)
    actions = db.session.scalars(sa.select(AuditLog.action)).all()
    assert actions.count("agency_created") == 2 and actions.count("contract_created") == 2
    assert actions.count("pairing_created") == 2 and "import_organisations" in actions
    assert "13805321234" not in str(db.session.scalars(sa.select(AuditLog.detail)).all())


def test_the_same_file_imported_again_adds_nothing(world):
    data = full_file(households=[], pairings=[pairing()])
    assert run(data, world["city"])["state"] == "done"
    before = [count(m) for m in (Agency, PairingUnit, Contract, Pairing, Provider)]
    _upload, status = check(data, world["city"])
    assert status["state"] == "nothing_new"
    assert status["existing"] == {"agencies": 2, "units": 1, "contracts": 2, "pairings": 1}
    assert [count(m) for m in (Agency, PairingUnit, Contract, Pairing, Provider)] == before


def test_a_changed_row_updates_its_record_and_never_duplicates_it(world):
    assert run(full_file(households=[], pairings=[pairing()]), world["city"])["state"] == "done"
    before = [count(m) for m in (Agency, PairingUnit, Contract, Pairing, Provider)]
    changed = full_file(households=[], agencies=[agency(contact_name="李主任")], units=[unit(quota=4)],
                        contracts=[contract(hours=3500)], pairings=[pairing(quota=3)])
    status = run(changed, world["city"])
    assert status["state"] == "done", status.get("errors")
    assert {k: v for k, v in status["written"].items() if v} == {
        "agencies_updated": 1, "units_updated": 1, "contracts_updated": 1, "pairings_updated": 1}
    assert [count(m) for m in (Agency, PairingUnit, Contract, Pairing, Provider)] == before
    assert db.session.scalar(sa.select(Agency.contact_name).where(Agency.credit_code == AGENCY_A)) == "李主任"
    assert db.session.scalar(sa.select(Contract.purchased_hours).where(Contract.code == "TZ-2024-001")) == 3500
    assert db.session.scalar(sa.select(Pairing.monthly_visit_quota)) == 3
    assert db.session.scalar(sa.select(PairingUnit.monthly_visit_quota)) == 4
    assert "更新" in service.written_summary(status["written"]) or "updated" in service.written_summary(
        status["written"])


def test_a_unit_registered_on_the_pages_without_a_code_is_matched_by_name_and_gets_it(world):
    place = orgs.Place(world["jinghe"].id, (world["jinghe"].id,))
    orgs.create_unit(orgs.UnitInput("滕州市民政局", "department", "滕州市人民政府", 2, place), world["city"])
    db.session.commit()
    status = run(organisations_workbook(units=[unit()]), world["city"])
    assert status["state"] == "done" and status["written"]["units_updated"] == 1
    assert count(PairingUnit) == 1
    assert db.session.scalar(sa.select(PairingUnit.credit_code)) == UNIT_A


def test_bad_agency_and_unit_rows_are_refused_each_with_its_cell_and_nothing_is_written(world):
    assert run(organisations_workbook(agencies=[agency(credit_code(9), licence_no="鲁滕民证字第0009号")]),
               world["city"])["state"] == "done"
    wrong = AGENCY_A[:17] + ("0" if AGENCY_A[17] != "0" else "1")
    rows = [
        agency(),  # 2 valid
        agency(wrong, licence_no="L-0003"),  # 3 wrong check character
        agency("52370481MJ000000I", licence_no="L-0004"),  # 4 wrong length
        agency("52370481MJ00000IOX", licence_no="L-0005"),  # 5 letters outside the alphabet
        agency(AGENCY_A, licence_no="L-0006"),  # 6 same code as row 2
        agency(credit_code(4), licence_no="鲁滕民证字第0001号"),  # 7 same licence as row 2
        agency(credit_code(5), licence_no="鲁滕民证字第0009号"),  # 8 licence of an agency in the system
        agency(credit_code(6), licence_no="L-0008", town="不存在镇"),  # 9
        agency(credit_code(7), licence_no="L-0009", towns="龙泉街道、火星"),  # 10
        agency(credit_code(8), licence_no="L-0010", contact_phone="12345"),  # 11
        agency(credit_code(10), licence_no="L-0011", name="益"),  # 12 name too short
        agency(credit_code(11), licence_no="L-0012", contact_name="=cmd()"),  # 13 formula
    ]
    units = [unit(credit_code(20, "11"), unit_type="俱乐部"), unit(credit_code(21, "11"), quota=40),
             unit(UNIT_A[:17] + ("0" if UNIT_A[17] != "0" else "1"))]
    before = [count(m) for m in (Agency, PairingUnit, Provider)]
    _upload, status = check(organisations_workbook(agencies=rows, units=units), world["city"])
    assert status["state"] == "invalid"
    assert errors(status) == {
        ("社工机构", 3, "统一社会信用代码", "bad_credit_code"),
        ("社工机构", 4, "统一社会信用代码", "bad_credit_code"),
        ("社工机构", 5, "统一社会信用代码", "bad_credit_code"),
        ("社工机构", 6, "统一社会信用代码", "duplicate_in_file"),
        ("社工机构", 7, "登记证号", "duplicate_in_file"),
        ("社工机构", 8, "登记证号", "licence_taken"),
        ("社工机构", 9, "所在镇街", "unknown_town"),
        ("社工机构", 10, "服务镇街", "unknown_town"),
        ("社工机构", 11, "联系电话", "bad_contact_phone"),
        ("社工机构", 12, "机构名称", "bad_name"),
        ("社工机构", 13, "联系人", "formula"),
        ("结对单位", 2, "单位类型", "bad_unit_type"),
        ("结对单位", 3, "每月走访次数", "bad_quota"),
        ("结对单位", 4, "统一社会信用代码", "bad_credit_code"),
    }
    reasons = {e["row"]: e["params"].get("reason") for e in status["errors"]
               if e["code"] == "bad_credit_code" and e["sheet"] == "社工机构"}
    assert reasons == {3: "check_character", 4: "length", 5: "characters"}
    assert [count(m) for m in (Agency, PairingUnit, Provider)] == before
    with force_locale("en"):
        shown = {e["row"]: service.error_message(e) for e in status["errors"] if e["sheet"] == "社工机构"}
    assert "check character" in shown[3] and "licence number" in shown[8]
    with force_locale("zh"):
        assert "校验" in service.error_message(next(e for e in status["errors"] if e["row"] == 3))


def test_bad_contract_rows_are_refused_each_with_its_cell(world):
    assert run(organisations_workbook(agencies=[agency(), agency(AGENCY_B, licence_no="L-B001")],
                                      contracts=[contract("TZ-OLD", starts_on="2023-01-01", ends_on="2024-02-29",
                                                          categories="学业辅导"),
                                                 contract("TZ-B", agency=AGENCY_B, categories="学业辅导")]),
               world["city"])["state"] == "done"
    db.session.execute(sa.update(Contract).where(Contract.code == "TZ-OLD").values(used_hours=100))
    db.session.commit()
    rows = [
        contract(),  # 2 valid: 精神慰藉、生活照料 in 2024
        contract("TZ-2", starts_on="2024-06-01", ends_on="2025-05-31", categories="生活照料"),  # 3 overlaps row 2
        contract("TZ-3", starts_on="2024-02-01", categories="学业辅导"),  # 4 overlaps TZ-OLD in the system
        contract("TZ-4", starts_on="2025-01-01", ends_on="2025-12-31", categories="生活照料"),  # 5 valid: after
        contract("TZ-5", starts_on="2024-06-01", categories="法律援助"),  # 6 valid: another category
        contract("TZ-6", agency=credit_code(30)),  # 7 unknown agency
        contract("TZ-7", starts_on="2024-05-01", ends_on="2024-04-01", categories="康复服务"),  # 8
        contract("TZ-8", budget="很多", categories="康复服务"),  # 9
        contract("TZ-9", hours=0, categories="康复服务"),  # 10
        contract("TZ-10", categories="算命"),  # 11
        contract("TZ-4", categories="康复服务", starts_on="2026-01-01", ends_on="2026-02-01"),  # 12 number again
        contract("TZ-B", categories="社会融入"),  # 13 number of agency B's contract
        contract("TZ-OLD", starts_on="2023-01-01", ends_on="2024-02-29", categories="学业辅导", hours=50),  # 14
        contract("TZ-11", starts_on="2024-13-01", categories="能力提升"),  # 15
    ]
    before = count(Contract)
    _upload, status = check(organisations_workbook(contracts=rows), world["city"])
    assert status["state"] == "invalid"
    assert errors(status) == {
        ("购买服务合同", 3, "开始日期", "contract_overlap"),
        ("购买服务合同", 4, "开始日期", "contract_overlap"),
        ("购买服务合同", 7, "承接机构信用代码", "agency_missing"),
        ("购买服务合同", 8, "结束日期", "bad_period"),
        ("购买服务合同", 9, "预算金额", "bad_budget"),
        ("购买服务合同", 10, "购买服务时长", "bad_contract_hours"),
        ("购买服务合同", 11, "服务类别", "unknown_service_category"),
        ("购买服务合同", 12, "合同编号", "duplicate_in_file"),
        ("购买服务合同", 13, "合同编号", "contract_other_agency"),
        ("购买服务合同", 14, "购买服务时长", "hours_below_used"),
        ("购买服务合同", 15, "开始日期", "bad_date"),
    }
    overlap = {e["row"]: e["params"] for e in status["errors"] if e["code"] == "contract_overlap"}
    assert overlap[3]["contract"] == "TZ-2024-001" and overlap[3]["categories_zh"] == "生活照料"
    assert overlap[4]["contract"] == "TZ-OLD" and overlap[4]["end"] == "2024-02-29"
    with force_locale("en"):
        message = service.error_message(next(e for e in status["errors"] if e["row"] == 3))
    assert "TZ-2024-001" in message and "Daily-living care" in message
    assert count(Contract) == before


def test_bad_pairing_rows_are_refused_each_with_its_cell(world):
    suspended = credit_code(40, "11")
    assert run(organisations_workbook(units=[unit(), unit(suspended, name="滕州市某局")],
                                      pairings=[pairing(since="2024-01-15")]), world["city"])["state"] == "done"
    db.session.execute(sa.update(Provider).where(Provider.id == db.session.scalar(
        sa.select(PairingUnit.provider_id).where(PairingUnit.credit_code == suspended))).values(
        status=ProviderStatus.suspended))
    db.session.commit()
    rows = [
        pairing(since="2024-03-01"),  # 2 already paired with this unit since 2024-01-15
        pairing("H404"),  # 3 no such household
        pairing(unit=credit_code(41, "11")),  # 4 no such unit
        pairing(unit=suspended),  # 5 unit suspended
        pairing("H001", since="2030-01-01"),  # 6 future
        pairing("H001", quota=0),  # 7
        pairing("H001"),  # 8 valid (household of the file)
        pairing("H001"),  # 9 same unit and household as row 8
    ]
    before = count(Pairing)
    data = organisations_workbook(pairings=rows, households=[("H001", "荆河街道", "平安社区", "赵六", "8号", "")])
    _upload, status = check(data, world["city"])
    assert status["state"] == "invalid"
    assert errors(status) == {
        ("结对关系", 2, "户编号", "already_paired"),
        ("结对关系", 3, "户编号", "household_missing"),
        ("结对关系", 4, "结对单位信用代码", "unit_missing"),
        ("结对关系", 5, "结对单位信用代码", "unit_not_approved"),
        ("结对关系", 6, "结对开始日期", "future_since"),
        ("结对关系", 7, "每月走访次数", "bad_quota"),
        ("结对关系", 9, "户编号", "duplicate_in_file"),
    }
    paired = next(e for e in status["errors"] if e["code"] == "already_paired")
    assert paired["params"] == {"unit": "滕州市民政局", "since": "2024-01-15"}
    assert count(Pairing) == before and count(Household) == 1


def test_town_staff_import_only_their_towns_pairings_and_no_register(world):
    assert run(organisations_workbook(units=[unit()]), world["city"])["state"] == "done"
    town = world["town"]  # 龙泉街道; HDB1 is in 荆河街道
    _upload, status = check(organisations_workbook(agencies=[agency()], pairings=[pairing()]), town)
    assert errors(status) == {("社工机构", 1, "", "city_staff_only"), ("结对关系", 2, "户编号", "other_town")}
    assert count(Agency) == 0 and count(Pairing) == 0


@pytest.mark.parametrize("key", ["agencies", "units", "contracts", "pairings"])
def test_the_template_has_a_sheet_per_organisation_kind_with_its_headers(world, key):
    from io import BytesIO

    from openpyxl import load_workbook

    book = load_workbook(BytesIO(service.template_xlsx(world["city"])))
    kind = KINDS[key]
    header = [cell.value for cell in book[kind.sheet][1]]
    assert header == [c.header + ("*" if c.required else "") for c in kind.columns]


# ------------------------------------------------------------------ villages

def test_villages_are_imported_with_the_households_that_live_in_them(world):
    town = world["longquan"]
    data = organisations_workbook(
        villages=[("龙泉街道", "善国社区", "", ""), ("龙泉街道", "北辛社区", 35.09, 117.16)],
        households=[("H010", "龙泉街道", "善国社区", "孙七", "善国社区1号", ""),
                    ("H011", "龙泉街道", "北辛社区", "周八", "北辛社区2号", "")])
    status = run(data, world["city"])
    assert status["state"] == "done", status.get("errors")
    assert status["written"]["villages"] == 2 and status["written"]["households"] == 2
    shanguo = db.session.scalar(sa.select(Village).where(Village.name == "善国社区"))
    assert (shanguo.town_id, shanguo.lat, shanguo.lon) == (town.id, town.lat, town.lon)  # the town's centre
    assert db.session.scalar(sa.select(Household.village_id).where(Household.code == "H010")) == shanguo.id
    beixin = db.session.scalar(sa.select(Village).where(Village.name == "北辛社区"))
    assert (beixin.lat, beixin.lon) == (35.09, 117.16)
    before = count(Village)
    _upload, again = check(data, world["city"])
    assert again["state"] == "nothing_new" and again["existing"]["villages"] == 2 and count(Village) == before


def test_bad_village_rows_are_refused_each_with_its_cell(world):
    rows = [
        ("龙泉街道", "善国社区", "", ""),  # 2 valid
        ("不存在镇", "某村", "", ""),  # 3
        ("龙泉街道", "善国社区", "", ""),  # 4 same as row 2
        ("龙泉街道", "远方村", 39.9, 116.4),  # 5 Beijing: far from the town
        ("龙泉街道", "半村", 35.0, ""),  # 6 latitude without longitude
        ("龙泉街道", "坏村", "北纬", "东经"),  # 7 not numbers
        ("荆河街道", "别镇村", "", ""),  # 8 town staff: another town
    ]
    before = count(Village)
    _upload, status = check(organisations_workbook(villages=rows), world["town"])
    assert status["state"] == "invalid"
    assert errors(status) == {
        ("村居", 3, "镇街", "unknown_town"),
        ("村居", 4, "村居名称", "duplicate_in_file"),
        ("村居", 5, "纬度", "bad_place"),
        ("村居", 6, "纬度", "bad_place"),
        ("村居", 7, "纬度", "bad_place"),
        ("村居", 7, "经度", "bad_place"),
        ("村居", 8, "镇街", "other_town"),
    }
    assert count(Village) == before


def test_a_csv_file_of_one_chosen_organisation_kind_is_imported(world):
    from tests.fixtures.import_files import PAIRING_HEADER, UNIT_HEADER, csv_bytes

    units = csv_bytes(UNIT_HEADER, [unit()], "gb18030")
    assert run(units, world["city"], filename="结对单位.csv", kind="units")["state"] == "done"
    pairings = csv_bytes(PAIRING_HEADER, [pairing(quota=2)])
    status = run(pairings, world["city"], filename="结对.csv", kind="pairings")
    assert status["state"] == "done" and status["written"]["pairings"] == 1
    assert db.session.scalar(sa.select(Pairing.monthly_visit_quota)) == 2
