"""Import service: every validation rule, all-or-nothing writes, re-import, file checks, town scope."""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import date, datetime

import pytest
import sqlalchemy as sa

from socialforce.platform import idnumber
from socialforce.platform.extensions import db
from socialforce.platform.models import AuditLog, Enrollment, Household, Member, ServiceItem, utcnow
from socialforce.platform.services import ServiceError
from socialforce.platform.services import imports as service
from tests.fixtures.import_files import (
    HOUSEHOLD_HEADER,
    MEMBER_HEADER,
    csv_bytes,
    person,
    setup_world,
    valid_rows,
    workbook,
)

NOW = datetime(2024, 6, 1, 8, 0)


@pytest.fixture
def world(app, tmp_path, monkeypatch):
    """Reference villages, users and one existing household; uploads go to a temporary instance folder."""
    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    return setup_world()


def counts() -> tuple[int, int, int, int]:
    return tuple(
        db.session.scalar(sa.select(sa.func.count()).select_from(m))
        for m in (Household, Member, Enrollment, ServiceItem)
    )


def check(data: bytes, user, filename: str = "data.xlsx", kind: str | None = None) -> tuple:
    upload = service.store_upload(io.BytesIO(data), filename, kind, user, NOW)
    status = service.preview(upload, user, NOW)
    db.session.rollback()
    return upload, status


def run(data: bytes, user, filename: str = "data.xlsx", kind: str | None = None) -> dict:
    """Upload, preview and (when valid) import; returns the final status."""
    upload, status = check(data, user, filename, kind)
    if status["state"] != "valid":
        return status
    assert upload.claim()
    written = service.run_import(upload, user, NOW)
    db.session.commit()
    return service.finish(upload, written)


def error_set(status: dict) -> set[tuple]:
    return {(e["sheet"], e["row"], e["column"], e["code"]) for e in status["errors"]}


def test_a_valid_file_imports_everything_encrypted_and_masked(world):
    before = counts()
    rows = valid_rows()
    status = run(workbook(**rows), world["city"])
    assert status["state"] == "done", status.get("errors")
    assert status["written"] == {"households": 2, "members": 3, "enrollments": 4, "items": 3}
    assert counts() == (before[0] + 2, before[1] + 3, before[2] + 4, before[3] + 3)
    head = db.session.scalar(sa.select(Member).where(Member.name == "张三"))
    number = rows["members"][0][2]
    assert head.id_masked == idnumber.mask(number) and head.id_suffix == number[-4:]
    assert number not in head.id_number_enc and head.birth_date == date(1950, 3, 1)
    household = db.session.scalar(sa.select(Household).where(Household.code == "H001"))
    assert household.phone_masked == "138****5678" and "13812345678" not in household.phone_enc
    items = db.session.scalars(sa.select(ServiceItem).order_by(ServiceItem.id)).all()
    assert [i.frequency.value for i in items] == ["weekly", "weekly", "once"]
    assert items[0].member_id == head.id and items[2].member_id is None
    audit = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "import_households"))
    assert audit.detail["households"] == 2 and number not in json.dumps(audit.detail)
    upload_files = list(service.Upload.new().data_path.parent.glob("*.upload"))
    assert upload_files == []  # the uploaded file (full IDs) is deleted after the import


def test_a_second_import_of_the_same_file_adds_nothing(world):
    data = workbook(**valid_rows())
    run(data, world["city"])
    before = counts()
    upload, status = check(data, world["city"])
    assert status["state"] == "nothing_new"
    assert status["existing"] == {"households": 2, "members": 3, "items": 3}
    assert counts() == before
    rows = valid_rows()
    rows["households"].append(("H003", "龙泉街道", "杏坛社区", "赵六", "杏坛社区7号楼", ""))
    rows["members"].append(("H003", "赵六", person(4), "户主", 0, "", "", ""))
    status = run(workbook(**rows), world["city"])
    assert status["written"] == {"households": 1, "members": 1, "enrollments": 0, "items": 0}


def bad_file(world) -> bytes:
    good = person(10)
    bad_birth = "37048119501301001"
    bad_birth += idnumber.check_character(bad_birth)
    wrong_check = person(11)[:17] + ("0" if person(11)[17] != "0" else "1")
    households = [
        ("H001", "龙泉街道", "杏坛社区", "张三", "地址1", "13812345678"),  # 2 valid
        ("H002", "不存在镇", "杏坛社区", "甲", "地址2", ""),  # 3 unknown town
        ("H003", "龙泉街道", "不存在村", "乙", "地址3", ""),  # 4 unknown village
        ("H001", "龙泉街道", "杏坛社区", "丙", "地址4", ""),  # 5 duplicate in file
        ("H004", "龙泉街道", "杏坛社区", "", "地址5", ""),  # 6 head name missing
        ("H005", "龙泉街道", "杏坛社区", "丁", "地址6", "12345"),  # 7 bad phone
        ("H006", "龙泉街道", "杏坛社区", '=HYPERLINK("x")', "地址7", ""),  # 8 formula
        ("H007", "龙泉街道", "杏坛社区", "戊", "长" * 201, ""),  # 9 too long
        ("HDB1", "龙泉街道", "杏坛社区", "李四", "地址9", ""),  # 10 exists in another town
    ]
    members = [
        ("H001", "张三", good, "户主", 0, "低保", "2020-01-01", ""),  # 2 valid
        ("H001", "数字", 370481195003010011, "配偶", 0, "", "", ""),  # 3 ID stored as a number
        ("H001", "校验", wrong_check, "子女", 0, "", "", ""),  # 4 check character
        ("H001", "生日", bad_birth, "子女", 0, "", "", ""),  # 5 birth date
        ("H001", "短号", "12345", "子女", 0, "", "", ""),  # 6 format
        ("H001", "重复", good, "子女", 0, "", "", ""),  # 7 duplicate ID in the file
        ("H001", "邻居", person(12), "邻居", 0, "", "", ""),  # 8 relation
        ("H001", "残疾", person(13), "子女", 5, "", "", ""),  # 9 disability grade
        ("H001", "类别", person(14), "子女", 0, "低保、火星补贴", "", ""),  # 10 category
        ("H001", "日期", person(15), "子女", 0, "", "2020-13-45", ""),  # 11 date
        ("H999", "无户", person(16), "户主", 0, "", "", ""),  # 12 household missing
        ("H001", "别户", world["existing_id"], "子女", 0, "", "", ""),  # 13 registered in another household
        ("H001", "", person(17), "子女", 0, "", "", ""),  # 14 name missing
    ]
    items = [
        ("H001", good, "生活照料", "打扫卫生", "普通", "每周", "工作日上午"),  # 2 valid
        ("H001", "", "飞行服务", "描述", "", "", ""),  # 3 service category
        ("H001", "", "生活照料", "描述3", "超级", "", ""),  # 4 priority
        ("H001", "", "生活照料", "描述4", "", "每年", ""),  # 5 frequency
        ("H001", "", "生活照料", "描述5", "", "", "月圆之夜"),  # 6 windows
        ("H001", person(18), "生活照料", "描述6", "", "", ""),  # 7 not a member of H001
        ("H001", good, "生活照料", "打扫卫生", "普通", "每周", "工作日上午"),  # 8 duplicate of row 2
        ("H001", "", "生活照料", "+cmd|' /C calc'!A0", "", "", ""),  # 9 formula
    ]
    return workbook(households, members, items)


def test_a_file_with_every_kind_of_bad_row_reports_exactly_those_rows_and_writes_nothing(world):
    before = counts()
    upload, status = check(bad_file(world), world["city"])
    assert status["state"] == "invalid"
    assert error_set(status) == {
        ("家庭", 3, "镇街", "unknown_town"),
        ("家庭", 4, "村居", "unknown_village"),
        ("家庭", 5, "户编号", "duplicate_in_file"),
        ("家庭", 6, "户主姓名", "required"),
        ("家庭", 7, "联系电话", "bad_phone"),
        ("家庭", 8, "户主姓名", "formula"),
        ("家庭", 9, "家庭住址", "too_long"),
        ("家庭", 10, "户编号", "household_conflict"),
        ("成员", 3, "身份证号", "id_numeric"),
        ("成员", 4, "身份证号", "id_check_character"),
        ("成员", 5, "身份证号", "id_birth_date"),
        ("成员", 6, "身份证号", "id_format"),
        ("成员", 7, "身份证号", "duplicate_in_file"),
        ("成员", 8, "与户主关系", "bad_relation"),
        ("成员", 9, "残疾等级", "bad_disability_grade"),
        ("成员", 10, "救助类别", "unknown_category"),
        ("成员", 11, "纳入救助日期", "bad_date"),
        ("成员", 12, "户编号", "household_missing"),
        ("成员", 13, "身份证号", "id_registered_elsewhere"),
        ("成员", 14, "姓名", "required"),
        ("服务事项", 3, "服务类别", "unknown_service_category"),
        ("服务事项", 4, "优先级", "bad_priority"),
        ("服务事项", 5, "频次", "bad_frequency"),
        ("服务事项", 6, "期望时段", "bad_windows"),
        ("服务事项", 7, "成员身份证号", "member_not_in_household"),
        ("服务事项", 8, "需求描述", "duplicate_in_file"),
        ("服务事项", 9, "需求描述", "formula"),
    }
    assert len({code for *_rest, code in error_set(status)}) >= 20
    assert not re.search(r"\d{15}", json.dumps(status["errors"]))  # IDs masked even when invalid
    assert {e["value"] for e in status["errors"] if e["code"] == "id_format"} == {"1****"}
    assert not upload.data_path.exists()  # a file that cannot be imported is not kept (it holds full IDs)
    with pytest.raises(ServiceError):
        service.run_import(upload, world["city"], NOW)
    db.session.rollback()
    assert counts() == before


def test_error_messages_are_in_the_users_language(world, app):
    upload, status = check(bad_file(world), world["city"])
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        header, rows = service.error_report(status)
    assert len(rows) == status["error_total"] and all(row[4] for row in rows)


def test_missing_columns_are_reported_on_the_header_row(world):
    data = csv_bytes(["户编号", "姓名", "与户主关系"], [("H001", "张三", "户主")])
    _upload, status = check(data, world["city"], "members.csv")
    assert error_set(status) == {("members.csv", 1, "身份证号", "missing_column")}


@pytest.mark.parametrize("cell", ["3.70481E+17", "370481195003010000", "370481195003010011.0"])
def test_csv_ids_that_excel_turned_into_numbers_are_refused(world, cell):
    rows = [("HDB1", "数字", cell, "子女", 0, "", "", "")]
    _upload, status = check(csv_bytes(MEMBER_HEADER, rows), world["city"], "members.csv")
    assert error_set(status) == {("members.csv", 2, "身份证号", "id_numeric")}


def test_gb18030_csv_with_chosen_kind_imports(world):
    rows = [("HDB1", "李小", person(20, date(2010, 1, 2)), "子女", 0, "困境儿童", "", "")]
    status = run(csv_bytes(MEMBER_HEADER, rows, "gb18030"), world["city"], "成员.csv", kind="members")
    assert status["state"] == "done" and status["written"]["members"] == 1


def test_town_staff_cannot_import_another_towns_rows(world):
    households = [
        ("H100", "荆河街道", "平安社区", "外镇", "平安社区2号", ""),
        ("H101", "龙泉街道", "杏坛社区", "本镇", "杏坛社区2号", ""),
    ]
    members = [("HDB1", "外镇成员", person(30), "子女", 0, "", "", "")]
    before = counts()
    _upload, status = check(workbook(households, members), world["town"])
    assert error_set(status) == {("家庭", 2, "镇街", "other_town"), ("成员", 2, "户编号", "other_town")}
    assert counts() == before
    status = run(workbook(households[1:]), world["town"])
    assert status["written"]["households"] == 1


def test_a_renamed_file_is_refused(world):
    with pytest.raises(ServiceError, match="修改了扩展名"):
        service.store_upload(io.BytesIO(b"just text, not a workbook"), "data.xlsx", None, world["city"], NOW)
    with pytest.raises(ServiceError, match="不是文本格式的 CSV"):
        service.store_upload(io.BytesIO(workbook()), "data.csv", None, world["city"], NOW)
    with pytest.raises(ServiceError, match=".xls"):
        service.store_upload(
            io.BytesIO(b"\xd0\xcf\x11\xe0" + b"\0" * 100), "old.xlsx", None, world["city"], NOW
        )
    with pytest.raises(ServiceError, match="修改了扩展名"):  # a ZIP that is not a workbook
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("readme.txt", "hello")
        service.store_upload(io.BytesIO(buffer.getvalue()), "data.xlsx", None, world["city"], NOW)


def test_a_zip_bomb_is_refused_before_it_is_opened(world):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (8 * 1024 * 1024))
    assert len(buffer.getvalue()) < 100_000
    with pytest.raises(ServiceError, match="压缩炸弹"):
        service.store_upload(io.BytesIO(buffer.getvalue()), "bomb.xlsx", None, world["city"], NOW)


def test_uploads_over_the_size_cap_are_refused(world, app, monkeypatch):
    monkeypatch.setitem(app.config, "IMPORT_MAX_BYTES", 2048)
    data = csv_bytes(
        HOUSEHOLD_HEADER, [(f"H{n:04d}", "龙泉街道", "杏坛社区", "张三", "地址", "") for n in range(200)]
    )
    with pytest.raises(ServiceError, match="文件超过") as refused:
        service.store_upload(io.BytesIO(data), "big.csv", None, world["city"], NOW)
    assert refused.value.status == 413
    assert list(service.Upload.new().data_path.parent.glob("*.upload")) == []


def test_template_has_a_sheet_per_kind_with_text_id_columns(world):
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(service.template_xlsx(world["town"])))
    assert book.sheetnames[:3] == ["家庭", "成员", "服务事项"]
    assert [c.value for c in book["成员"][1]][:3] == ["户编号*", "姓名*", "身份证号*"]
    assert book["成员"].column_dimensions["C"].number_format == "@"
    towns = {row[0] for row in book["可选值"].iter_rows(min_row=2, values_only=True) if row[0]}
    assert towns == {"龙泉街道"}  # town staff see only their own town's villages


def test_the_template_round_trips_through_the_reader(world):
    """A template filled in openpyxl (header marks * included) imports."""
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(service.template_xlsx(world["city"])))
    book["家庭"].append(["H500", "荆河街道", "平安社区", "钱七", "平安社区9号", "0632-5551234"])
    book["成员"].append(["H500", "钱七", person(40), "户主", "0", "特困", datetime(2021, 3, 4), ""])
    buffer = io.BytesIO()
    book.save(buffer)
    status = run(buffer.getvalue(), world["city"])
    assert status["state"] == "done", status.get("errors")
    assert status["written"]["enrollments"] == 1
    enrollment = db.session.scalar(sa.select(Enrollment))
    assert enrollment.since == date(2021, 3, 4)


def test_a_run_that_was_interrupted_is_reported(world, monkeypatch):
    upload, _status = check(workbook(**valid_rows()), world["city"])
    upload.save(state="running")
    monkeypatch.setattr("socialforce.platform.imports.uploads.utcnow", lambda: utcnow().replace(year=2100))
    assert upload.status()["state"] == "interrupted"
