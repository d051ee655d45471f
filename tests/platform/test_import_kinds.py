"""Imports of volunteers (national volunteer system export), material-assistance payments and corrections."""

from __future__ import annotations

import io
from datetime import date, datetime

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from socialforce.platform import crypto, idnumber
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    AssistanceCategory,
    AuditLog,
    Enrollment,
    Household,
    HouseholdChange,
    MaterialAssistance,
    Member,
    Provider,
    ProviderKind,
    ProviderStatus,
    User,
    Village,
    Volunteer,
)
from socialforce.platform.services import households as household_service
from socialforce.platform.services import imports as service
from socialforce.platform.services import volunteers as volunteer_service
from tests.fixtures.import_files import (
    corrections_workbook,
    payments_workbook,
    person,
    setup_world,
    sheets_workbook,
    volunteers_workbook,
    workbook,
)

NOW = datetime(2024, 6, 1, 8, 0)


@pytest.fixture
def world(app, tmp_path, monkeypatch):
    """Reference villages, users and one existing household (HDB1 in 荆河街道/平安社区, head 李四)."""
    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    return setup_world()


def check(data: bytes, user, options: dict | None = None, filename: str = "data.xlsx", kind=None) -> tuple:
    upload = service.store_upload(io.BytesIO(data), filename, kind, user, NOW, options)
    status = service.preview(upload, user, NOW)
    db.session.rollback()
    return upload, status


def run(data: bytes, user, options: dict | None = None, filename: str = "data.xlsx", kind=None) -> dict:
    """Upload, preview and (when valid) import; returns the final status."""
    upload, status = check(data, user, options, filename, kind)
    if status["state"] != "valid":
        return status
    assert upload.claim()
    written = service.run_import(upload, user, NOW)
    db.session.commit()
    return service.finish(upload, written)


def errors(status: dict) -> set[tuple]:
    return {(e["sheet"], e["row"], e["column"], e["code"]) for e in status["errors"]}


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


# ------------------------------------------------------------------ volunteers

def volunteer(n: int, **changes) -> list:
    row = {
        "name": f"志愿者{n}",
        "id_type": "身份证",
        "id_number": person(500 + n, date(1990, 1, 1)),
        "phone": f"1390000{n:04d}",
        "national_no": f"3704810000{n:06d}",
        "registered_on": "2019-05-12",
        "hours": 12.5,
        "organisation": "滕州市青年志愿者协会",
        "intentions": "关爱老人、助学",
        "town": "龙泉街道",
    }
    row.update(changes)
    return list(row.values())


def test_volunteers_import_pending_by_default_with_their_national_record(world):
    passport = volunteer(2, id_type="护照", id_number="E1234 5678", intentions="法律援助", hours="30小时")
    status = run(volunteers_workbook([volunteer(1), passport]), world["city"])
    assert status["state"] == "done", status.get("errors")
    assert status["written"] == {"volunteers": 2, "volunteers_updated": 0}
    rows = db.session.scalars(sa.select(Volunteer).order_by(Volunteer.id)).all()
    first, second = rows[-2:]
    number = person(501, date(1990, 1, 1))
    assert first.id_number_hash == crypto.id_number_hash(number) and number not in first.id_number_enc
    assert first.id_masked == idnumber.mask(number) and first.id_type is None
    assert first.national_no == "3704810000000001" and first.registered_on == date(2019, 5, 12)
    assert first.imported_hours == 12.5 and first.organisation == "滕州市青年志愿者协会"
    assert set(first.skills.split()) == {"emotional_comfort", "tutoring"}
    assert first.provider.status == ProviderStatus.pending and first.provider.kind == ProviderKind.volunteer
    assert first.provider.town_id == world["longquan"].id and first.phone_masked == "139****0001"
    assert second.id_type == "passport" and second.imported_hours == 30 and second.skills == ""
    assert crypto.decrypt(second.id_number_enc) == "E12345678" and second.id_masked == "E1*****78"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User).where(User.provider_id.in_(
        [first.provider_id, second.provider_id]))) == 0  # no logins in bulk
    audit = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "import_volunteers"))
    assert audit.detail["volunteers"] == 2 and number not in str(audit.detail)


def test_staff_may_approve_every_new_volunteer_at_import(world):
    status = run(volunteers_workbook([volunteer(1)]), world["city"], {"volunteer_status": "approved"})
    assert status["state"] == "done"
    assert db.session.scalar(sa.select(Provider.status).join(Volunteer)) == ProviderStatus.approved


def test_an_unknown_volunteer_rule_is_refused(world):
    with pytest.raises(service.ServiceError) as refused:
        service.store_upload(io.BytesIO(b"x"), "a.xlsx", None, world["city"], NOW, {"volunteer_status": "boss"})
    assert refused.value.field == "volunteer_status"


def test_the_national_systems_own_headers_are_understood(world):
    header = ["序号", "志愿者姓名", "证件类型", "证件号码", "手机号码", "志愿者编号", "注册时间", "累计志愿服务时长",
              "所属志愿团体", "志愿服务意向", "所属区域"]
    row = [1, "王芳", "居民身份证", person(601, date(1991, 2, 3)), "13900001111", "37048100009", "2020-03-04 10:22:33",
           "8.25", "龙泉义工队", "精神慰藉", "山东省枣庄市滕州市荆河街道"]
    status = run(sheets_workbook({"志愿者信息": (header, [row])}), world["city"])
    assert status["state"] == "done", status.get("errors")
    saved = db.session.scalar(sa.select(Volunteer).where(Volunteer.national_no == "37048100009"))
    assert saved.registered_on == date(2020, 3, 4) and saved.imported_hours == 8.25
    assert saved.provider.town_id == world["jinghe"].id and saved.skills == "emotional_comfort"


def test_a_volunteer_already_registered_is_updated_not_duplicated(world, app):
    with app.test_request_context():
        volunteer_service.register(volunteer_service.Registration(
            "signed_up", "secret-pass-1", "早报名", person(501, date(1990, 1, 1)), "13911112222",
            world["longquan"].id, ("daily_care",), availability=0b111))
    db.session.commit()
    before = count(Volunteer)
    status = run(volunteers_workbook([volunteer(1)]), world["city"], {"volunteer_status": "approved"})
    assert status["state"] == "done" and status["written"] == {"volunteers": 0, "volunteers_updated": 1}
    assert count(Volunteer) == before
    saved = db.session.scalar(sa.select(Volunteer).where(Volunteer.national_no == "3704810000000001"))
    assert saved.real_name == "早报名" and saved.imported_hours == 12.5 and saved.skills == "daily_care"
    assert saved.provider.status == ProviderStatus.pending  # the rule applies to new volunteers only
    assert check(volunteers_workbook([volunteer(1)]), world["city"])[1]["state"] == "nothing_new"
    status = run(volunteers_workbook([volunteer(1, hours=20)]), world["city"])
    assert status["written"]["volunteers_updated"] == 1
    assert db.session.scalar(sa.select(Volunteer.imported_hours).where(Volunteer.id == saved.id)) == 20


def test_a_second_import_of_the_same_volunteers_adds_nothing(world):
    data = volunteers_workbook([volunteer(1), volunteer(2)])
    run(data, world["city"])
    before = count(Volunteer), count(Provider)
    upload, status = check(data, world["city"])
    assert status["state"] == "nothing_new" and status["existing"] == {"volunteers": 2}
    assert (count(Volunteer), count(Provider)) == before


def test_bad_volunteer_rows_are_refused_each_with_its_cell_and_nothing_is_written(world):
    run(volunteers_workbook([volunteer(9)]), world["city"])  # holds national number ...009
    wrong_check = person(503, date(1990, 1, 1))[:17] + ("0" if person(503, date(1990, 1, 1))[17] != "0" else "1")
    rows = [
        volunteer(1),  # 2 valid
        volunteer(2, id_number=wrong_check),  # 3
        volunteer(3, id_number=370481199001010000),  # 4 number cell
        volunteer(4, id_type="军官证"),  # 5
        volunteer(5, phone="12345"),  # 6
        volunteer(6, hours="很多"),  # 7
        volunteer(7, id_number=person(501, date(1990, 1, 1))),  # 8 same ID as row 2
        volunteer(8, national_no="3704810000000001"),  # 9 same number as row 2
        volunteer(10, national_no="3704810000000009"),  # 10 number of another volunteer in the system
        volunteer(11, town="不存在镇"),  # 11
        volunteer(12, town=""),  # 12 city staff must give the town
        volunteer(13, name="=cmd()"),  # 13 formula
        volunteer(14, registered_on="2030-01-01"),  # 14 future date
        volunteer(15, id_type="护照", id_number="短"),  # 15
    ]
    before = count(Volunteer), count(Provider)
    upload, status = check(volunteers_workbook(rows), world["city"])
    assert status["state"] == "invalid"
    assert errors(status) == {
        ("志愿者", 3, "证件号码", "id_check_character"),
        ("志愿者", 4, "证件号码", "id_numeric"),
        ("志愿者", 5, "证件类型", "bad_id_type"),
        ("志愿者", 6, "联系电话", "bad_phone"),
        ("志愿者", 7, "累计服务时长", "bad_hours"),
        ("志愿者", 8, "证件号码", "duplicate_in_file"),
        ("志愿者", 9, "志愿者编号", "duplicate_in_file"),
        ("志愿者", 10, "志愿者编号", "national_no_taken"),
        ("志愿者", 11, "镇街", "unknown_town"),
        ("志愿者", 12, "镇街", "town_required"),
        ("志愿者", 13, "姓名", "formula"),
        ("志愿者", 14, "注册日期", "bad_date"),
        ("志愿者", 15, "证件号码", "bad_id_other"),
    }
    assert (count(Volunteer), count(Provider)) == before
    assert all(service.error_message(e) != e["code"] for e in status["errors"])
    assert not any(person(501, date(1990, 1, 1)) in e["value"] for e in status["errors"])  # IDs masked


def test_town_staff_import_their_own_towns_volunteers_only(world):
    own = volunteer(1, town="")
    other = volunteer(2, town="荆河街道")
    upload, status = check(volunteers_workbook([own, other]), world["town"])
    assert errors(status) == {("志愿者", 3, "镇街", "other_town")}
    status = run(volunteers_workbook([own]), world["town"])
    assert status["state"] == "done"
    assert db.session.scalar(sa.select(Provider.town_id).join(Volunteer)) == world["longquan"].id


# ------------------------------------------------------------------ payments

def households_with_heads(world) -> dict:
    """H001 (head 张三) and H002 (head 王五) in 龙泉街道, imported through the households sheets."""
    a, b = person(1), person(2, date(1980, 5, 6))
    run(workbook(
        households=[("H001", "龙泉街道", "杏坛社区", "张三", "地址1", ""), ("H002", "龙泉街道", "杏坛社区", "王五", "地址2", "")],
        members=[("H001", "张三", a, "户主", 0, "低保", "2020-01-01", ""),
                 ("H001", "张小", person(3, date(2012, 9, 1)), "子女", "", "低保", "", ""),
                 ("H002", "王五", b, "户主", 0, "特困", "", "")],
    ), world["city"])
    return {"a": a, "b": b, "child": person(3, date(2012, 9, 1))}


def test_payments_import_by_household_number_or_head_id_and_feed_the_dashboard(world, app):
    ids = households_with_heads(world)
    rows = [
        ("2024-04", "H001", "", "低保", 650.5, ""),
        ("2024年5月", "", ids["b"], "特困", "1,250.00", "米面油"),
        ("2024/05", "H001", ids["a"], "低保", 650.5, ""),
        ("2024-05", "HDB1", "", "dibao", 300, ""),
    ]
    status = run(payments_workbook(rows), world["city"])
    assert status["state"] == "done", status.get("errors")
    assert status["written"] == {"payments": 4}
    paid = db.session.execute(sa.select(Household.code, MaterialAssistance.month, MaterialAssistance.amount_cents,
                                        MaterialAssistance.in_kind).join(Household)
                              .order_by(Household.code, MaterialAssistance.month)).all()
    assert [tuple(p) for p in paid] == [
        ("H001", date(2024, 4, 1), 65050, None), ("H001", date(2024, 5, 1), 65050, None),
        ("H002", date(2024, 5, 1), 125000, "米面油"), ("HDB1", date(2024, 5, 1), 30000, None)]
    from socialforce.platform.services import dashboard
    with app.test_request_context():
        data = dashboard.build(world["city"], dashboard.Filters(date(2024, 5, 1), date(2024, 5, 31)), NOW)
    groups = {row[0]: row[1] for row in data.tables["households"].rows}
    assert sum(groups.values()) == 3  # the three households paid in May, all material only (no items)
    again = check(payments_workbook(rows), world["city"])[1]
    assert again["state"] == "nothing_new" and again["existing"] == {"payments": 4}


def test_bad_payment_rows_are_refused_and_nothing_is_written(world):
    ids = households_with_heads(world)
    run(payments_workbook([("2024-03", "H002", "", "特困", 500, "")]), world["city"])
    run(corrections_workbook([("H002", "退出救助", "2024-04-10", "", "", "", "", "迁出")]), world["city"])
    rows = [
        ("2024-04", "H001", "", "低保", 650, ""),  # 2 valid
        ("2024-07", "H001", "", "低保", 650, ""),  # 3 future month
        ("2024-05", "H002", "", "特困", 500, ""),  # 4 left assistance on 2024-04-10
        ("2024-04", "H001", "", "低保", 651, ""),  # 5 duplicate of row 2
        ("2024-03", "H002", "", "特困", 400, ""),  # 6 a different amount is recorded
        ("2024-04", "H999", "", "低保", 650, ""),  # 7 unknown household
        ("2024-04", "", ids["child"], "低保", 650, ""),  # 8 not a head
        ("2024-04", "", "", "低保", 650, ""),  # 9 neither number nor ID
        ("2024-04", "H001", "", "低保", "12.345", ""),  # 10 three decimals
        ("2024-13", "H001", "", "特困", 650, ""),  # 11 not a month
        ("2024-04", "H001", "", "不存在", 650, ""),  # 12 unknown category
        ("2024-04", "H001", ids["b"], "特困", 650, ""),  # 13 head of another household
        ("2024-04", "H001", "", "特困", -5, ""),  # 14 negative
    ]
    before = count(MaterialAssistance)
    upload, status = check(payments_workbook(rows), world["city"])
    assert status["state"] == "invalid"
    assert errors(status) == {
        ("物质救助发放", 3, "发放月份", "future_month"),
        ("物质救助发放", 4, "发放月份", "household_left"),
        ("物质救助发放", 5, "发放月份", "duplicate_in_file"),
        ("物质救助发放", 6, "金额", "payment_conflict"),
        ("物质救助发放", 7, "户编号", "household_not_in_db"),
        ("物质救助发放", 8, "户主身份证号", "head_not_found"),
        ("物质救助发放", 9, "户编号", "household_or_head_required"),
        ("物质救助发放", 10, "金额", "bad_amount"),
        ("物质救助发放", 11, "发放月份", "bad_month"),
        ("物质救助发放", 12, "救助类别", "unknown_category"),
        ("物质救助发放", 13, "户主身份证号", "head_other_household"),
        ("物质救助发放", 14, "金额", "bad_amount"),
    }
    assert count(MaterialAssistance) == before
    left = next(e for e in status["errors"] if e["code"] == "household_left")
    assert "2024-04-10" in service.error_message(left)


def test_town_staff_record_payments_of_their_own_town_only(world):
    households_with_heads(world)
    upload, status = check(payments_workbook([("2024-04", "HDB1", "", "低保", 300, "")]), world["town"])
    assert errors(status) == {("物质救助发放", 2, "户编号", "other_town")}


# ------------------------------------------------------------------ corrections

def test_corrections_are_applied_as_dated_changes_shown_on_the_timeline(world, app):
    ids = households_with_heads(world)
    pingan = db.session.scalar(sa.select(Village).where(Village.name == "平安社区"))
    rows = [
        ("H001", "迁移镇街", "2024-05-01", "荆河街道", "平安社区", "", "", "搬家"),
        ("H002", "变更救助类别", "2024-05-02", "", "", "低保、临时救助", "", "复核"),
        ("H001", "变更救助类别", "2024-05-03", "", "", "特困", ids["child"], ""),
        ("HDB1", "退出救助", "2024-05-20", "", "", "", "", "收入超标"),
    ]
    status = run(corrections_workbook(rows), world["city"])
    assert status["state"] == "done", status.get("errors")
    assert status["written"] == {"corrections": 4}
    h001 = db.session.scalar(sa.select(Household).where(Household.code == "H001"))
    assert (h001.town_id, h001.village_id) == (world["jinghe"].id, pingan.id)
    hdb1 = db.session.scalar(sa.select(Household).where(Household.code == "HDB1"))
    assert hdb1.left_on == date(2024, 5, 20)
    categories = dict(db.session.execute(sa.select(AssistanceCategory.code, AssistanceCategory.id)).tuples().all())
    head_b = db.session.scalar(sa.select(Member).where(Member.id_number_hash == crypto.id_number_hash(ids["b"])))
    assert {e.category_id for e in head_b.enrollments} == {categories["dibao"], categories["temporary"]}
    assert {e.since for e in head_b.enrollments if e.category_id == categories["temporary"]} == {date(2024, 5, 2)}
    child = db.session.scalar(sa.select(Member).where(Member.id_number_hash == crypto.id_number_hash(ids["child"])))
    assert {e.category_id for e in child.enrollments} == {categories["tekun"]}
    head_a = db.session.scalar(sa.select(Member).where(Member.id_number_hash == crypto.id_number_hash(ids["a"])))
    assert {e.category_id for e in head_a.enrollments} == {categories["dibao"]}  # only the child changed
    changes = db.session.scalars(sa.select(HouseholdChange).order_by(HouseholdChange.effective_on)).all()
    assert [(c.kind, c.old_value, c.new_value) for c in changes] == [
        ("move", "龙泉街道 杏坛社区", "荆河街道 平安社区"), ("category", "特困", "低保、临时救助"),
        ("category", "低保", "特困"), ("leave", "", "2024-05-20")]
    assert changes[2].member_id == child.id and changes[0].created_by_id == world["city"].id
    with app.test_request_context():
        timeline = household_service.household_timeline(h001)
    assert [c.kind for c in timeline.changes] == ["category", "move"]  # newest first
    again = check(corrections_workbook(rows), world["city"])[1]
    assert again["state"] == "nothing_new" and again["existing"] == {"corrections": 4}
    assert count(HouseholdChange) == 4


def test_bad_corrections_are_refused_and_nothing_changes(world):
    ids = households_with_heads(world)
    run(corrections_workbook([("H002", "迁移镇街", "2024-05-10", "荆河街道", "平安社区", "", "", ""),
                              ("HDB1", "退出救助", "2024-05-01", "", "", "", "", "")]), world["city"])
    rows = [
        ("H001", "迁移镇街", "2024-05-01", "荆河街道", "平安社区", "", "", ""),  # 2 valid
        ("H001", "改名", "2024-05-01", "", "", "", "", ""),  # 3 unknown change
        ("H001", "退出救助", "2024-07-01", "", "", "", "", ""),  # 4 future date
        ("H001", "迁移镇街", "2024-05-02", "荆河街道", "平安社区", "", "", ""),  # 5 second move in the file
        ("H002", "迁移镇街", "2024-05-01", "龙泉街道", "杏坛社区", "", "", ""),  # 6 a later move is recorded
        ("HDB1", "退出救助", "2024-05-15", "", "", "", "", ""),  # 7 already left
        ("H999", "退出救助", "2024-05-15", "", "", "", "", ""),  # 8 unknown household
        ("H001", "变更救助类别", "2024-05-01", "", "", "", "", ""),  # 9 no categories
        ("H002", "变更救助类别", "2024-05-01", "", "", "低保", ids["a"], ""),  # 10 member of another household
        ("H002", "退出救助", "2024-05-01", "", "", "", ids["b"], ""),  # 11 a member cannot leave alone
        ("HDB1", "迁移镇街", "2024-05-01", "荆河街道", "平安社区", "", "", ""),  # 12 already lives there
        ("H002", "变更救助类别", "2024-05-01", "", "", "不存在", "", ""),  # 13 unknown category
    ]
    second = [
        ("H002", "迁移镇街", "2024-05-10", "龙泉街道", "杏坛社区", "", "", ""),  # 2 another move that day
        ("H001", "迁移镇街", "2024-05-01", "荆河街道", "", "", "", ""),  # 3 the village missing
    ]
    before = count(HouseholdChange), db.session.execute(sa.select(Household.code, Household.town_id,
                                                                 Household.left_on)).all()
    upload, status = check(corrections_workbook(rows), world["city"])
    assert status["state"] == "invalid"
    assert errors(status) == {
        ("信息更正", 3, "变更类型", "bad_change"),
        ("信息更正", 4, "生效日期", "bad_date"),
        ("信息更正", 5, "变更类型", "duplicate_in_file"),
        ("信息更正", 6, "生效日期", "later_change"),
        ("信息更正", 7, "变更类型", "already_left"),
        ("信息更正", 8, "户编号", "household_not_in_db"),
        ("信息更正", 9, "新救助类别", "categories_required"),
        ("信息更正", 10, "成员身份证号", "member_not_in_household"),
        ("信息更正", 11, "成员身份证号", "member_required_here"),
        ("信息更正", 12, "新村居", "same_place"),
        ("信息更正", 13, "新救助类别", "unknown_category"),
    }
    upload, status = check(corrections_workbook(second), world["city"])
    assert errors(status) == {("信息更正", 2, "变更类型", "change_conflict"),
                              ("信息更正", 3, "新村居", "move_target_required")}
    assert all(service.error_message(e) != e["code"] for e in status["errors"])
    after = count(HouseholdChange), db.session.execute(sa.select(Household.code, Household.town_id,
                                                                Household.left_on)).all()
    assert after == before
    assert count(Enrollment) == 3


def test_town_staff_correct_their_own_towns_households_within_their_town(world):
    households_with_heads(world)
    upload, status = check(corrections_workbook([
        ("H001", "迁移镇街", "2024-05-01", "荆河街道", "平安社区", "", "", ""),
        ("HDB1", "退出救助", "2024-05-01", "", "", "", "", ""),
    ]), world["town"])
    assert errors(status) == {("信息更正", 2, "新镇街", "other_town"), ("信息更正", 3, "户编号", "other_town")}


# ------------------------------------------------------------------ the template and mixed files

def test_the_template_has_a_sheet_per_kind_with_lists_and_help(world):
    book = load_workbook(io.BytesIO(service.template_xlsx(world["city"])))
    assert book.sheetnames == ["家庭", "成员", "服务事项", "村居", "社工机构", "结对单位", "购买服务合同", "结对关系", "志愿者",
                               "物质救助发放", "信息更正", "可选值", "填写说明"]
    assert [c.value for c in book["志愿者"][1]][:5] == ["姓名*", "证件类型", "证件号码*", "联系电话*", "志愿者编号*"]
    assert [c.value for c in book["物质救助发放"][1]][0] == "发放月份*"
    reference = [c.value for c in book["可选值"][1]]
    assert reference == ["镇街", "村居", "救助类别", "服务类别", "服务意向", "证件类型", "变更类型"]
    lists = {tuple(v.formula1 for v in book[name].data_validations.dataValidation) for name in ("志愿者", "信息更正")}
    assert any("护照" in f for f in next(iter(lists)) + tuple(x for t in lists for x in t))
    help_text = " ".join(str(c.value) for row in book["填写说明"].iter_rows() for c in row)
    assert "志愿者" in help_text and "物质救助发放" in help_text and "信息更正" in help_text
    assert "社工机构" in help_text and "购买服务合同" in help_text and "结对关系" in help_text
    assert any("党政机关" in v.formula1 for v in book["结对单位"].data_validations.dataValidation)


def test_one_workbook_may_hold_several_families(world):
    ids = households_with_heads(world)
    data = sheets_workbook({
        "志愿者": (volunteers_workbook_header(), [volunteer(1)]),
        "物质救助发放": (payment_header(), [("2024-05", "", ids["a"], "低保", 100, "")]),
    })
    status = run(data, world["city"])
    assert status["state"] == "done", status.get("errors")
    assert status["written"] == {"volunteers": 1, "volunteers_updated": 0, "payments": 1}
    assert service.written_summary(status["written"])


def test_a_csv_file_of_payments_is_read_when_its_kind_is_chosen(world):
    households_with_heads(world)
    text = "户编号,发放月份,救助类别,金额\r\nH001,2024-05,低保,650.50\r\n".encode("utf-8-sig")
    status = run(text, world["city"], filename="pay.csv", kind="payments")
    assert status["state"] == "done", status.get("errors")
    assert db.session.scalar(sa.select(MaterialAssistance.amount_cents)) == 65050


def volunteers_workbook_header() -> list:
    from tests.fixtures.import_files import VOLUNTEER_HEADER
    return VOLUNTEER_HEADER


def payment_header() -> list:
    from tests.fixtures.import_files import PAYMENT_HEADER
    return PAYMENT_HEADER


def test_missing_columns_and_overlong_cells_are_refused_in_every_new_kind(world):
    households_with_heads(world)
    data = sheets_workbook({
        "志愿者": (["姓名", "证件号码", "志愿者编号", "镇街"], [["甲", person(801), "1", "龙泉街道"]]),
        "物质救助发放": (["发放月份", "户编号", "金额"], [["2024-05", "H001", 100]]),
        "信息更正": (["户编号", "变更类型", "生效日期", "变更原因"], [["H001", "退出救助", "2024-05-01", "长" * 201]]),
    })
    upload, status = check(data, world["city"])
    assert errors(status) == {
        ("志愿者", 1, "联系电话", "missing_column"),
        ("物质救助发放", 1, "救助类别", "missing_column"),
        ("信息更正", 2, "变更原因", "too_long"),
    }
    assert status["state"] == "invalid" and count(Volunteer) == 0 and count(HouseholdChange) == 0


def test_the_filled_template_imports_only_its_filled_sheets(world):
    book = load_workbook(io.BytesIO(service.template_xlsx(world["city"])))
    book["志愿者"].append(volunteer(1))
    buffer = io.BytesIO()
    book.save(buffer)
    status = run(buffer.getvalue(), world["city"])
    assert status["state"] == "done", status.get("errors")
    assert status["read"] == {"volunteers": 1} and status["written"] == {"volunteers": 1, "volunteers_updated": 0}
    actions = db.session.scalars(sa.select(AuditLog.action).where(AuditLog.action.like("import_%"))).all()
    assert actions == ["import_volunteers"]
