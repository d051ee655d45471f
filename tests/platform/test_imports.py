"""Import service: every validation rule, all-or-nothing writes, re-import, file checks, town scope."""

from __future__ import annotations

import io
import json
import random
import re
import stat
import threading
import tracemalloc
import zipfile
from datetime import date, datetime

import pytest
import sqlalchemy as sa

from socialforce.platform import idnumber
from socialforce.platform.extensions import db
from socialforce.platform.imports import validation, xlsx
from socialforce.platform.models import AuditLog, Enrollment, Household, Member, ServiceItem, User, utcnow
from socialforce.platform.services import ServiceError
from socialforce.platform.services import imports as service
from tests.fixtures.import_files import (
    HOUSEHOLD_HEADER,
    MAIN_NS,
    MEMBER_HEADER,
    csv_bytes,
    government_workbook,
    office_encrypted,
    person,
    raw_xlsx,
    setup_world,
    sheet_xml,
    styles_xml,
    valid_rows,
    workbook,
    zip_encrypted,
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


# --- Awkward workbooks: every sheet understood, or the file refused ---


def sheet_outcomes(status: dict) -> dict[str, tuple]:
    return {s["name"]: (s["outcome"], s["reason"], s["params"].get("kind")) for s in status["sheets"]}


def test_a_government_layout_imports_every_member(world):
    """Title rows, a two-row header with merged cells and header synonyms: nothing vanishes."""
    before = counts()
    status = run(government_workbook(), world["city"])
    assert status["state"] == "done", status.get("errors")
    assert status["written"] == {"households": 2, "members": 3, "enrollments": 4, "items": 3}
    assert counts() == (before[0] + 2, before[1] + 3, before[2] + 4, before[3] + 3)
    assert sheet_outcomes(status) == {
        "困难家庭": ("imported", "imported", "households"),
        "家庭成员": ("imported", "imported", "members"),
        "服务需求": ("imported", "imported", "items"),
        "填表说明": ("ignored", "no_table", None),
    }
    assert [s["params"].get("row") for s in status["sheets"]] == [2, 3, 1, None]
    head = db.session.scalar(sa.select(Member).where(Member.name == "张三"))
    assert head.relation == "户主" and len(head.enrollments) == 2


@pytest.mark.parametrize(
    ("variant", "header"),
    [
        ("与户主的关系", "与户主关系"),
        ("身份证号码", "身份证号"),
        ("户号", "户编号"),
        ("与户主关系 *", "与户主关系"),
    ],
)
def test_known_header_variants_are_understood(world, variant, header):
    rows = [("HDB1", "李小", person(20, date(2010, 1, 2)), "子女", 0, "困境儿童", "", "")]
    members = [variant if h == header else h for h in MEMBER_HEADER]
    status = run(raw_xlsx({"成员": sheet_xml([members, *rows])}), world["city"])
    assert status["state"] == "done", status.get("errors") or status.get("message")
    assert status["written"]["members"] == 1


def test_a_table_that_is_not_recognised_is_an_error_not_a_skip(world):
    before = counts()
    rows = valid_rows()
    unknown = [["名字", "证件", "关系"], ["张小", person(3, date(2012, 9, 1)), "子女"]]
    data = raw_xlsx(
        {
            "家庭": sheet_xml([HOUSEHOLD_HEADER, *rows["households"]]),
            "其他成员": sheet_xml([["补充名单"], [], *unknown]),
            "备注": sheet_xml([["以上信息经村居核实。"], [], ["2024年5月"]]),
            "空表": sheet_xml([]),
            "图表": None,
        }
    )
    upload, status = check(data, world["city"])
    assert status["state"] == "invalid"
    assert error_set(status) == {("其他成员", 1, "", "sheet_not_recognised")}
    assert sheet_outcomes(status) == {
        "家庭": ("imported", "imported", "households"),
        "其他成员": ("error", "not_recognised", None),
        "备注": ("ignored", "no_table", None),
        "空表": ("ignored", "empty", None),
        "图表": ("ignored", "not_a_worksheet", None),
    }
    assert "户主姓名" in service.error_message(status["errors"][0])
    assert not upload.data_path.exists() and counts() == before


def test_a_sheet_whose_key_column_is_missing_reports_the_missing_columns_on_its_header_row(world):
    data = raw_xlsx(
        {"成员": sheet_xml([["成员名单"], ["户编号", "姓名", "与户主关系"], ["HDB1", "李小", "子女"]])}
    )
    _upload, status = check(data, world["city"])
    assert error_set(status) == {("成员", 2, "身份证号", "missing_column")}


def test_an_empty_template_says_there_are_no_rows(world):
    with pytest.raises(ServiceError, match="没有数据行"):
        check(service.template_xlsx(world["city"]), world["city"])
    assert list(service.Upload.new().data_path.parent.glob("*.upload")) == []


def test_a_file_of_notes_only_names_its_sheets(world):
    data = raw_xlsx({"说明": sheet_xml([["请按模板填写。"]]), "空白": sheet_xml([])})
    with pytest.raises(ServiceError, match="说明、空白"):
        check(data, world["city"])


def test_a_csv_with_a_title_row_finds_its_header(world):
    rows = [("HDB1", "李小", person(20, date(2010, 1, 2)), "子女", 0, "困境儿童", "", "")]
    data = "成员名单（2024年）\r\n".encode() + csv_bytes(MEMBER_HEADER, rows, "utf-8")
    status = run(data, world["city"], "成员.csv")
    assert status["state"] == "done" and status["written"]["members"] == 1
    assert status["sheets"][0]["params"] == {"kind": "members", "row": 2}


# --- Broken, encrypted and malformed files: a reason, never a 500, nothing kept ---


def member_sheet(*cells) -> str:
    """A members sheet with one data row whose cells are given (defaults fill the rest)."""
    row = ["HDB1", "李小", person(20, date(2010, 1, 2)), "子女", 0, "困境儿童", "2021-03-04", ""]
    for position, value in cells:
        row[position] = value
    return sheet_xml([MEMBER_HEADER, row])


def random_text(length: int, seed: int = 1) -> str:
    """Chinese text that does not compress much (so it is not taken for a zip bomb)."""
    rng = random.Random(seed)
    return "".join(chr(rng.randrange(0x4E00, 0x9FA5)) for _ in range(length))


def shared_strings(*texts: str) -> str:
    items = "".join(f"<si><t>{t}</t></si>" for t in texts)
    return f'<sst xmlns="{MAIN_NS}" count="{len(texts)}" uniqueCount="{len(texts)}">{items}</sst>'


REFUSED = {
    "truncated": (lambda: workbook(**valid_rows())[:3000], "损坏或不完整"),
    "zip encrypted": (lambda: zip_encrypted(workbook(**valid_rows())), "密码"),
    "office encrypted": (office_encrypted, "密码"),
    "not xml": (lambda: raw_xlsx({"成员": "<worksheet><sheetData><row>"}), "损坏或不完整"),
    "entities": (
        lambda: raw_xlsx({"成员": '<!DOCTYPE x [<!ENTITY a "b">]><worksheet/>'}),
        "实体",
    ),
    "bad cell reference": (
        lambda: raw_xlsx({"成员": member_sheet((1, ("raw", '<c r="1B"><v>1</v></c>')))}),
        "1B",
    ),
    "column ZZZZZ": (
        lambda: raw_xlsx({"成员": member_sheet((1, ("raw", '<c r="ZZZZZ2"><v>1</v></c>')))}),
        "ZZZZZ2",
    ),
    "beyond column IV": (
        lambda: raw_xlsx({"成员": member_sheet((1, ("raw", '<c r="XFD2"><v>1</v></c>')))}),
        "XFD2",
    ),
    "bad row number": (
        lambda: raw_xlsx(
            {"成员": f'<worksheet xmlns="{MAIN_NS}"><sheetData><row r="x1"/></sheetData></worksheet>'}
        ),
        "行号",
    ),
    "bad shared-string index": (
        lambda: raw_xlsx(
            {"成员": member_sheet((3, ("raw", '<c r="REF" t="s"><v>7</v></c>')))},
            shared=shared_strings("子女"),
        ),
        "D2",
    ),
    "text in a number cell": (
        lambda: raw_xlsx({"成员": member_sheet((4, ("raw", '<c r="REF"><v>abc</v></c>')))}),
        "E2",
    ),
    "bad inline date": (
        lambda: raw_xlsx({"成员": member_sheet((6, ("raw", '<c r="REF" t="d"><v>2021-13-45</v></c>')))}),
        "G2",
    ),
    "cell over Excel's limit": (lambda: raw_xlsx({"成员": member_sheet((7, random_text(40_000)))}), "32767"),
    "utf-16 csv": (lambda: "户编号,姓名\r\n".encode("utf-16"), "UTF-16"),
    "semicolon csv": (lambda: ";".join(MEMBER_HEADER).encode("utf-8"), "分号"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_broken_file_is_refused_with_what_is_wrong_and_nothing_is_kept(world, case):
    build, reason = REFUSED[case]
    before = counts()
    filename = "data.csv" if "csv" in case else "data.xlsx"
    with pytest.raises(ServiceError) as refused:
        check(build(), world["city"], filename)
    assert reason in refused.value.message and refused.value.status == 400
    assert list(service.Upload.new().data_path.parent.glob("*.upload")) == []
    assert counts() == before


def test_a_password_protected_workbook_is_not_called_an_old_xls(world):
    with pytest.raises(ServiceError) as refused:
        check(office_encrypted(), world["city"])
    assert "旧版" not in refused.value.message and "密码" in refused.value.message


def test_empty_values_inline_dates_and_shared_strings_are_read(world):
    sheet = member_sheet(
        (1, ("raw", '<c r="REF" t="s"><v>0</v></c>')),
        (4, ("raw", '<c r="REF"><v></v></c>')),
        (6, ("raw", '<c r="REF" t="d"><v>2021-03-04T00:00:00</v></c>')),
        (7, ("raw", '<c r="REF" t="inlineStr"/>')),
    )
    status = run(raw_xlsx({"成员": sheet}, shared=shared_strings("李小")), world["city"])
    assert status["state"] == "done", status.get("errors") or status.get("message")
    member = db.session.scalar(sa.select(Member).where(Member.name == "李小"))
    assert member.disability_grade == 0 and member.enrollments[0].since == date(2021, 3, 4)


@pytest.mark.parametrize("number_format", [14, 27, 31, 36, 50, 57, 58])
def test_chinese_excel_built_in_date_formats_are_dates(world, number_format):
    """yyyy年m月d日 and the like are stored as a serial number with a built-in format and no format code."""
    sheet = member_sheet((6, ("raw", '<c r="REF" s="1"><v>44259</v></c>')))
    status = run(raw_xlsx({"成员": sheet}, styles=styles_xml(0, number_format)), world["city"])
    assert status["state"] == "done", status.get("errors")
    assert db.session.scalar(sa.select(Enrollment)).since == date(2021, 3, 4)


def test_uploads_are_readable_by_the_server_user_only(world):
    upload = service.store_upload(io.BytesIO(workbook(**valid_rows())), "data.xlsx", None, world["city"], NOW)
    assert stat.S_IMODE(upload.data_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(upload.status_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(upload.data_path.parent.stat().st_mode) == 0o700


# --- Bounded cost: whatever a file holds, one upload grows the server by at most 100 MB ---

MEMORY_BOUND = 100 * 1024 * 1024


def peak_memory(work) -> tuple[object, int]:
    """What `work()` returns or raises, and the peak of Python memory allocated while it ran."""
    tracemalloc.start()
    try:
        try:
            result = work()
        except ServiceError as e:
            result = e
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_an_empty_cell_in_the_last_column_of_every_row_costs_nothing(world):
    """30,000 rows, each with a cell at XFD (column 16,384), and each with an error: memory and report bounded."""
    rows = "".join(
        f'<row r="{n}"><c r="A{n}" t="inlineStr"><is><t>H{n}</t></is></c>'
        f'<c r="B{n}" t="inlineStr"><is><t>无此镇</t></is></c><c r="XFD{n}" s="0"/></row>'
        for n in range(2, 30_002)
    )
    header = sheet_xml([HOUSEHOLD_HEADER]).split("<sheetData>")[1].split("</sheetData>")[0]
    data = raw_xlsx(
        {"家庭": f'<worksheet xmlns="{MAIN_NS}"><sheetData>{header}{rows}</sheetData></worksheet>'}
    )
    (_upload, status), peak = peak_memory(lambda: check(data, world["city"]))
    assert status["state"] == "invalid" and status["read"]["households"] == 30_000
    assert status["error_total"] == 30_000 * 4  # town, village, head name and address on every row
    assert len(status["errors"]) == validation.MAX_ERRORS  # the stored and shown report is capped
    assert peak < MEMORY_BOUND, peak


def test_a_hundred_megabytes_of_shared_strings_in_a_small_file_are_refused_within_the_bound(world):
    filler = "滕州市龙泉街道杏坛社区" * 9
    strings = "".join(f"<si><t>{n:08x}{filler}</t></si>" for n in range(400_000))
    shared = f'<sst xmlns="{MAIN_NS}">{strings}</sst>'
    data = raw_xlsx({"成员": member_sheet()}, shared=shared)
    assert len(shared.encode()) > 100 * 1024 * 1024 > 20 * len(data)
    refused, peak = peak_memory(lambda: check(data, world["city"]))
    assert isinstance(refused, ServiceError) and "共享文本表超过 48 MB" in refused.message
    assert peak < MEMORY_BOUND, peak


def test_the_text_read_from_one_upload_is_capped(world, monkeypatch):
    monkeypatch.setattr(xlsx, "MAX_TEXT_CHARS", 1_000_000)
    rows = [(f"H{n}", "龙泉街道", "杏坛社区", "张三", random_text(120, n), "") for n in range(10_000)]
    with pytest.raises(ServiceError, match="文字超过 1 百万字"):
        check(raw_xlsx({"家庭": sheet_xml([HOUSEHOLD_HEADER, *rows])}), world["city"])
    assert list(service.Upload.new().data_path.parent.glob("*.upload")) == []


# --- Two previews of one file confirmed at once: exactly one import ---

RACES = 20


def confirm_at_once(app, tokens: list[str], user_id: int) -> tuple[list[str], list[BaseException]]:
    """Confirm several uploads at the same moment, each in its own thread and session; their final states."""
    barrier = threading.Barrier(len(tokens))
    states, errors = [], []

    def confirm(token: str) -> None:
        with app.app_context():
            user = db.session.get(User, user_id)
            upload = service.Upload.find(token)
            db.session.commit()  # end the read transaction before racing
            assert upload.claim()
            barrier.wait()
            try:
                written = service.run_import(upload, user, NOW)
                db.session.commit()
                states.append(service.finish(upload, written)["state"])
            except ServiceError as e:
                db.session.rollback()
                service.abandon(upload, e.message)
                states.append("refused")
            except BaseException as e:  # noqa: BLE001 - collected and asserted below
                db.session.rollback()
                errors.append(e)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=confirm, args=(token,)) for token in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return states, errors


def renumbered(rows: dict, race: int) -> dict:
    """The same rows with household numbers and ID numbers of their own for this race."""
    ids = {
        m[2]: person(100 + race * 3 + n, idnumber.birth_date_of(m[2])) for n, m in enumerate(rows["members"])
    }
    return {
        "households": [(f"R{race}{h[0]}", *h[1:]) for h in rows["households"]],
        "members": [(f"R{race}{m[0]}", m[1], ids[m[2]], *m[3:]) for m in rows["members"]],
        "items": [(f"R{race}{i[0]}", ids.get(i[1], ""), *i[2:]) for i in rows["items"]],
    }


def test_two_previews_of_one_file_confirmed_at_once_import_once(app, world):
    user_id = world["city"].id
    for race in range(RACES):
        data = workbook(**renumbered(valid_rows(), race))
        tokens = [check(data, world["city"])[0].token for _ in range(2)]
        before = counts()
        states, errors = confirm_at_once(app, tokens, user_id)
        assert errors == [], f"race {race}: {errors}"
        assert sorted(states) == ["done", "nothing_new"], f"race {race}: {states}"
        db.session.expire_all()
        assert counts() == (before[0] + 2, before[1] + 3, before[2] + 4, before[3] + 3), f"race {race}"


def mutated_workbooks(count: int, seed: int = 5):
    """Valid workbooks with random damage in one XML part (bytes changed, cut or inserted), some truncated."""
    base = workbook(**valid_rows())
    with zipfile.ZipFile(io.BytesIO(base)) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    rng = random.Random(seed)
    for _ in range(count):
        damaged = dict(parts)
        name = rng.choice(sorted(n for n in parts if n.endswith((".xml", ".rels"))))
        data = bytearray(damaged[name])
        for _edit in range(rng.randint(1, 5)):
            at = rng.randrange(len(data))
            choice = rng.random()
            if choice < 0.4:
                data[at] = rng.randrange(256)
            elif choice < 0.7:
                del data[at : at + rng.randint(1, 20)]
            else:
                data[at:at] = rng.choice(
                    [b"<", b'"', b'r="', b"ZZZZZ9", b't="s"', b't="d"', b"<v>", b"99999999"]
                )
        damaged[name] = bytes(data)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for part, content in damaged.items():
                archive.writestr(part, content)
        blob = buffer.getvalue()
        yield blob[: rng.randrange(len(blob))] if rng.random() < 0.2 else blob


def test_randomly_damaged_workbooks_are_refused_or_reported_never_a_crash(world):
    before = counts()
    outcomes = []
    for data in mutated_workbooks(150):
        try:
            outcomes.append(check(data, world["city"])[1]["state"])
        except ServiceError as e:
            assert e.status in (400, 413) and e.message
            outcomes.append("refused")
    assert {"refused", "valid"} <= set(outcomes)
    assert counts() == before
    kept = list(service.Upload.new().data_path.parent.glob("*.upload"))
    assert len(kept) == outcomes.count("valid")  # only a preview that can be confirmed keeps its file


def test_an_import_that_cannot_get_the_write_lock_says_so_and_writes_nothing(world):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL waits for the advisory lock; only SQLite's write lock can time out")
    upload, _status = check(workbook(**valid_rows()), world["city"])
    before = counts()
    other = db.engine.raw_connection()
    other.cursor().execute("BEGIN IMMEDIATE")  # another writer holds the database
    try:
        db.session.execute(sa.text("PRAGMA busy_timeout=50"))
        with pytest.raises(ServiceError, match="数据库正忙") as refused:
            service.run_import(upload, world["city"], NOW)
        assert refused.value.status == 409
    finally:
        other.rollback()
        other.close()
        db.session.execute(sa.text("PRAGMA busy_timeout=10000"))
        db.session.rollback()
    assert counts() == before
