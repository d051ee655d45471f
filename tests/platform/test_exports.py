"""Export writers: formula neutralising, xlsx/csv that open correctly, safe download names, scoped exports."""

from __future__ import annotations

import ast
import io
from datetime import date
from pathlib import Path
from urllib.parse import unquote

import pytest
from openpyxl import load_workbook

from socialforce.platform.services import exports
from socialforce.platform.services.exports import writers
from socialforce.portals import downloads
from tests.conftest import login
from tests.fixtures.import_files import person, setup_world, workbook
from tests.platform.test_imports import run


@pytest.mark.parametrize(
    "value, expected",
    [
        ("=1+1", "'=1+1"),
        ("+86", "'+86"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\r=x", "'\r=x"),
        ("安全", "安全"),
        ("a=b", "a=b"),
        (5, 5),
        (None, None),
        (date(2024, 1, 2), date(2024, 1, 2)),
    ],
)
def test_neutralise(value, expected):
    assert exports.neutralise(value) == expected


def test_xlsx_opens_with_formulas_neutralised_and_sheet_names_made_safe():
    data = exports.write_xlsx(
        [
            (
                "家庭/列表[1]",
                ["户编号", "备注"],
                iter([("H1", '=HYPERLINK("http://x")'), ("H2", "@cmd"), ("H3", 7)]),
            ),
            ("家庭/列表[1]", ["a"], []),
        ]
    )
    book = load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["家庭_列表_1_", "家庭_列表_1_ (2)"]
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    assert rows == [("户编号", "备注"), ("H1", '\'=HYPERLINK("http://x")'), ("H2", "'@cmd"), ("H3", 7)]
    assert all(cell.data_type != "f" for row in book.worksheets[0].iter_rows() for cell in row)


def test_csv_has_a_bom_crlf_and_neutralised_cells():
    data = exports.write_csv(["姓名", "备注"], [["张三", "-1+1"], ["李四", None]])
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.decode("utf-8-sig") == "姓名,备注\r\n张三,'-1+1\r\n李四,\r\n"


def test_the_writers_import_neither_flask_nor_the_database():
    tree = ast.parse(Path(writers.__file__).read_text(encoding="utf-8"))
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported and not {m for m in imported if m.split(".")[0] in ("flask", "flask_babel", "sqlalchemy", "socialforce")}


def test_download_response_has_a_safe_chinese_filename(app):
    with app.test_request_context():
        response = downloads.download_response(b"x", '困难家庭/../"列表".xlsx')
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="')
    encoded = disposition.split("filename*=UTF-8''")[1]
    assert unquote(encoded) == "困难家庭_.._列表_.xlsx"
    assert (
        response.mimetype.endswith("spreadsheetml.sheet") and response.headers["Cache-Control"] == "no-store"
    )


@pytest.fixture
def imported(app, tmp_path, monkeypatch):
    """The import world plus one household per town, imported through the service."""
    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    world = setup_world()
    households = [("H001", "龙泉街道", "杏坛社区", "张三", "杏坛社区3号", "13812345678")]
    members = [
        ("H001", "张三", person(1), "户主", 0, "低保", "", ""),
        ("HDB1", "李小", person(2), "子女", 0, "特困", "", ""),
    ]
    items = [
        ("H001", person(1), "生活照料", "打扫卫生", "高", "每周", ""),
        ("HDB1", "", "法律援助", "赡养纠纷", "", "", ""),
    ]
    assert run(workbook(households, members, items), world["city"])["state"] == "done"
    return world


def test_town_staff_export_only_their_town_and_never_full_ids(client, imported):
    login(client, "imp_town")
    response = client.get("/staff/export/households.xlsx")
    assert response.status_code == 200
    rows = list(load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True))
    assert [r[0] for r in rows[1:]] == ["H001"]
    assert rows[1][5] == "138****5678" and "低保" in rows[1][7]
    response = client.get("/staff/export/items.csv")
    text = response.data.decode("utf-8-sig")
    assert "打扫卫生" in text and "赡养纠纷" not in text
    assert person(1) not in text and person(1)[-4:] in text  # masked ID only


def test_city_staff_export_households_with_search_filters_and_orders(client, imported):
    login(client, "imp_city")
    all_rows = client.get("/staff/export/households.csv").data.decode("utf-8-sig").splitlines()
    assert len(all_rows) == 3
    filtered = client.get("/staff/export/households.csv?q=李").data.decode("utf-8-sig").splitlines()
    assert len(filtered) == 2 and filtered[1].startswith("HDB1")
    orders = client.get("/staff/export/orders.xlsx")
    assert orders.status_code == 200 and load_workbook(io.BytesIO(orders.data)).active.max_row == 1
    assert client.get("/staff/export/orders.pdf").status_code == 404
    page = client.get("/staff/exports").get_data(as_text=True)
    assert "/staff/export/items.csv" in page
