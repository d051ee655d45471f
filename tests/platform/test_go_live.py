"""Go live from the bureau's own files: an empty database to a working county through the CLI and the pages.

create-admin (CLI) -> log in -> import villages and households with members and items, organisations with
contracts and pairings, volunteers, twelve months of payments (files built here) -> dispatch a first order -> the
dashboard's households by kind of assistance (material only, material + service, service only) equal a recount
from the imported files. Runs on SQLite and on PostgreSQL (DATABASE_URL).
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date

import pytest
import sqlalchemy as sa

from socialforce.platform import localtime
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    Agency,
    Contract,
    Household,
    MaterialAssistance,
    Member,
    Order,
    Pairing,
    PairingUnit,
    ServiceItem,
    User,
    Village,
    Volunteer,
)
from tests.conftest import csrf_token, login
from tests.fixtures.import_files import (
    HOUSEHOLD_HEADER,
    ITEM_HEADER,
    MEMBER_HEADER,
    VILLAGE_HEADER,
    credit_code,
    organisations_workbook,
    payments_workbook,
    person,
    sheets_workbook,
    volunteers_workbook,
)

PASSWORD = "go-live-pass-1"
VILLAGES = [("龙泉街道", "善国社区", "", ""), ("龙泉街道", "北辛社区", "", ""), ("荆河街道", "平安社区", "", ""),
            ("荆河街道", "荆河社区", "", "")]
PLACES = [("龙泉街道", "善国社区"), ("龙泉街道", "北辛社区"), ("荆河街道", "平安社区"), ("荆河街道", "荆河社区")]
HOUSEHOLDS = [f"GL{n:02d}" for n in range(1, 11)]
WITH_ITEMS = {"GL01": "生活照料", "GL02": "学业辅导", "GL03": "精神慰藉", "GL04": "资源链接", "GL05": "生活照料"}
PAID = {"GL01": 12, "GL02": 12, "GL06": 12, "GL07": 7, "GL08": 1}  # months of payments in the last twelve


def last_months(today: date, n: int = 12) -> list[date]:
    """The first days of the n months before today's month, oldest first."""
    months, year, month = [], today.year, today.month
    for _ in range(n):
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        months.append(date(year, month, 1))
    return months[::-1]


def head_id(index: int) -> str:
    return person(700 + index, date(1955, 1, 1) if index % 2 else date(1978, 6, 15))


def files(today: date) -> dict[str, bytes]:
    """The bureau's files: households, organisations, volunteers, payments (built, not stored)."""
    households, members, items = [], [], []
    for index, code in enumerate(HOUSEHOLDS, start=1):
        town, village = PLACES[index % len(PLACES)]
        households.append((code, town, village, f"户主{index}", f"{village}{index}号", ""))
        members.append((code, f"户主{index}", head_id(index), "户主", 0, "低保", "2020-01-01", ""))
        if index % 3 == 0:
            members.append((code, f"子女{index}", person(800 + index, date(2012, 3, 4)), "子女", "", "困境儿童", "", ""))
        if code in WITH_ITEMS:
            items.append((code, "", WITH_ITEMS[code], f"需求{index}", "普通", "每周", "工作日上午"))
    household_file = sheets_workbook({"村居": (VILLAGE_HEADER, VILLAGES), "家庭": (HOUSEHOLD_HEADER, households),
                                      "成员": (MEMBER_HEADER, members), "服务事项": (ITEM_HEADER, items)})
    agencies = [("滕州市益善社会工作服务中心", credit_code(1), "鲁滕民证字第0001号", "王主任", "13805321234", "龙泉街道",
                 "龙泉街道、荆河街道"),
                ("滕州市阳光社工服务社", credit_code(2), "鲁滕民证字第0002号", "李主任", "0632-5512345", "荆河街道",
                 "荆河街道")]
    units = [("滕州市民政局", credit_code(3, "11"), "党政机关", "滕州市人民政府", "荆河街道", "龙泉街道、荆河街道", 2),
             ("国网滕州市供电公司", credit_code(4, "91"), "企业", "", "龙泉街道", "龙泉街道", "")]
    year = today.year
    contracts = [("GL-HT-001", credit_code(1), "困难家庭精神慰藉服务项目", f"{year}-01-01", f"{year}-12-31", "450000",
                  3000, "精神慰藉、生活照料"),
                 ("GL-HT-002", credit_code(2), "困境儿童学业辅导项目", f"{year}-01-01", f"{year}-12-31", "120000.50",
                  800, "学业辅导")]
    since = last_months(today)[0].isoformat()
    pairings = [(credit_code(3, "11"), "GL01", since, ""), (credit_code(3, "11"), "GL02", since, 3),
                (credit_code(4, "91"), "GL03", since, "")]
    organisation_file = organisations_workbook(agencies=agencies, units=units, contracts=contracts,
                                               pairings=pairings)
    volunteers = [[f"志愿者{n}", "身份证", person(900 + n, date(1990, 1, 1)), f"1390000{n:04d}",
                   f"37048100000{n:05d}", "2019-05-12", 10 + n, "滕州市青年志愿者协会", "关爱老人", "龙泉街道"]
                  for n in range(1, 6)]
    payments = []
    for code, count in PAID.items():
        index = HOUSEHOLDS.index(code) + 1
        for month in last_months(today)[-count:]:
            by_head = month.month % 2 == 0  # half the rows name the household by its head's ID number
            payments.append((month.strftime("%Y-%m"), "" if by_head else code, head_id(index) if by_head else "",
                             "低保", 620 + index, ""))
    return {"households": household_file, "organisations": organisation_file,
            "volunteers": volunteers_workbook(volunteers), "payments": payments_workbook(payments)}


def import_through_the_pages(client, data: bytes, filename: str, **options) -> dict:
    """Upload -> preview (valid) -> confirm -> done; returns the final status."""
    response = client.post("/staff/imports", data={"csrf_token": csrf_token(client, "/staff/imports"),
                                                   "file": (io.BytesIO(data), filename), **options},
                           content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    preview_url = response.headers["Location"]
    token = re.search(r"/staff/imports/([0-9a-f]{32})", preview_url).group(1)
    status = client.get(f"/staff/imports/{token}/status").get_json()
    assert status["state"] == "valid", status.get("errors") or status.get("message")
    done = client.post(f"/staff/imports/{token}/confirm", data={"csrf_token": csrf_token(client, preview_url)},
                       follow_redirects=True)
    assert done.status_code == 200
    status = client.get(f"/staff/imports/{token}/status").get_json()
    assert status["state"] == "done", status
    return status


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


@pytest.fixture
def uploads(app, tmp_path, monkeypatch):
    monkeypatch.setattr(app, "instance_path", str(tmp_path))


def test_an_empty_database_goes_live_from_the_bureaus_files(app, client, uploads):
    assert [count(m) for m in (User, Village, Household, Agency, Volunteer, MaterialAssistance)] == [0] * 6
    result = app.test_cli_runner().invoke(args=["create-admin", "--username", "chief", "--name", "局长"],
                                          input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "/staff/" in login(client, "chief", PASSWORD).request.path

    today = localtime.today()
    made = files(today)
    written = import_through_the_pages(client, made["households"], "困难家庭.xlsx")["written"]
    assert (written["villages"], written["households"], written["members"], written["items"]) == (4, 10, 13, 5)
    written = import_through_the_pages(client, made["organisations"], "社会力量.xlsx")["written"]
    assert {k: written[k] for k in ("agencies", "units", "contracts", "pairings")} == {
        "agencies": 2, "units": 2, "contracts": 2, "pairings": 3}
    written = import_through_the_pages(client, made["volunteers"], "志愿者.xlsx", volunteer_status="approved")
    assert written["written"]["volunteers"] == 5
    assert import_through_the_pages(client, made["payments"], "发放.xlsx")["written"]["payments"] == sum(PAID.values())
    db.session.expire_all()
    assert [count(m) for m in (Village, Household, Member, ServiceItem, Agency, PairingUnit, Contract, Pairing,
                               Volunteer, MaterialAssistance)] == [4, 10, 13, 5, 2, 2, 2, 3, 5, sum(PAID.values())]

    item_id = db.session.scalar(sa.select(ServiceItem.id).join(Household).where(Household.code == "GL01"))
    dispatched = client.post(f"/staff/items/{item_id}/dispatch",
                             data={"csrf_token": csrf_token(client, f"/staff/items/{item_id}"), "bring": ""},
                             follow_redirects=True)
    assert dispatched.status_code == 200
    order = db.session.scalar(sa.select(Order))
    assert order is not None and order.item_id == item_id and order.state.value == "dispatched"

    months = last_months(today)
    period = {"from": months[0].isoformat(), "to": today.isoformat()}
    assert client.get("/staff/dashboard", query_string=period).status_code == 200
    table = client.get("/staff/dashboard/export/households.csv", query_string=period)
    assert table.status_code == 200
    rows = list(csv.reader(io.StringIO(table.get_data().decode("utf-8-sig"))))
    assert [row[0] for row in rows[1:4]] == ["仅物质救助", "物质救助+服务", "仅服务救助"]
    shown = [int(row[1]) for row in rows[1:4]]

    material, service = set(PAID), set(WITH_ITEMS)  # the recount, from the files alone
    assert shown == [len(material - service), len(material & service), len(service - material)] == [3, 2, 3]

    for name, data in made.items():  # every file again: nothing new, nothing written
        response = client.post("/staff/imports", data={"csrf_token": csrf_token(client, "/staff/imports"),
                                                       "file": (io.BytesIO(data), f"{name}.xlsx")},
                               content_type="multipart/form-data")
        token = re.search(r"/staff/imports/([0-9a-f]{32})", response.headers["Location"]).group(1)
        assert client.get(f"/staff/imports/{token}/status").get_json()["state"] == "nothing_new", name
    assert [count(m) for m in (Village, Household, Member, ServiceItem, Agency, PairingUnit, Contract, Pairing,
                               Volunteer, MaterialAssistance)] == [4, 10, 13, 5, 2, 2, 2, 3, 5, sum(PAID.values())]
