"""The import pages through the test client: upload -> preview -> confirm -> done, with CSRF."""

from __future__ import annotations

import io
import re

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from socialforce.platform.extensions import db
from socialforce.platform.models import Household
from tests.conftest import csrf_token, login
from tests.fixtures.import_files import (
    HOUSEHOLD_HEADER,
    government_workbook,
    raw_xlsx,
    setup_world,
    sheet_xml,
    valid_rows,
    workbook,
)


@pytest.fixture
def world(app, tmp_path, monkeypatch):
    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    return setup_world()


def upload(client, data: bytes, filename: str = "家庭.xlsx", **extra):
    token = csrf_token(client, "/staff/imports")
    return client.post(
        "/staff/imports",
        data={"csrf_token": token, "file": (io.BytesIO(data), filename), **extra},
        content_type="multipart/form-data",
    )


def test_upload_preview_confirm_done(client, world):
    login(client, "imp_city")
    page = client.get("/staff/imports").get_data(as_text=True)
    assert "/staff/imports/template.xlsx" in page
    template = client.get("/staff/imports/template.xlsx")
    assert "filename*=UTF-8''" in template.headers["Content-Disposition"]
    assert load_workbook(io.BytesIO(template.data)).sheetnames[:3] == ["家庭", "成员", "服务事项"]

    response = upload(client, workbook(**valid_rows()))
    assert response.status_code == 302
    preview_url = response.headers["Location"]
    preview = client.get(preview_url).get_data(as_text=True)
    assert 'id="confirm-form"' in preview
    token = re.search(r"/staff/imports/([0-9a-f]{32})", preview_url).group(1)
    assert client.get(f"/staff/imports/{token}/status").get_json()["state"] == "valid"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Household)) == 1  # preview writes nothing

    assert client.post(f"/staff/imports/{token}/confirm").status_code == 400  # no CSRF token
    done = client.post(
        f"/staff/imports/{token}/confirm",
        data={"csrf_token": csrf_token(client, preview_url)},
        follow_redirects=True,
    )
    assert done.status_code == 200
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Household)) == 3
    assert client.get(f"/staff/imports/{token}/status").get_json()["written"]["households"] == 2
    again = client.post(
        f"/staff/imports/{token}/confirm",
        data={"csrf_token": csrf_token(client, "/staff/imports")},
        follow_redirects=True,
    )
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Household)) == 3  # cannot run twice
    assert again.status_code == 200

    second = client.get(upload(client, workbook(**valid_rows())).headers["Location"]).get_data(as_text=True)
    assert 'id="confirm-form"' not in second


def test_an_invalid_file_shows_a_masked_error_report(client, world):
    login(client, "imp_city")
    rows = valid_rows()
    good = rows["members"][0][2]
    wrong = good[:17] + ("0" if good[17] != "0" else "1")
    rows["members"][0] = ("H001", "张三", wrong, "户主", 0, "", "", "")
    url = upload(client, workbook(**rows)).headers["Location"]
    page = client.get(url).get_data(as_text=True)
    assert 'id="import-errors"' in page and 'id="confirm-form"' not in page
    assert rows["members"][0][2] not in page and rows["members"][0][2][-4:] in page
    report = client.get(url + "/errors.xlsx")
    cells = list(load_workbook(io.BytesIO(report.data)).active.iter_rows(values_only=True))
    assert [row[:3] for row in cells[1:]] == [("成员", 2, "身份证号"), ("服务事项", 2, "成员身份证号")]


def test_refused_files_and_other_users_uploads(client, world, app, monkeypatch):
    login(client, "imp_city")
    response = upload(client, b"not a workbook", "data.xlsx")
    assert response.status_code == 400 and "xlsx" in response.get_data(as_text=True)
    monkeypatch.setitem(app.config, "IMPORT_MAX_BYTES", 1024)
    response = upload(client, workbook(**valid_rows()))
    assert response.status_code == 413
    monkeypatch.setitem(app.config, "IMPORT_MAX_BYTES", 20 * 1024 * 1024)
    url = upload(client, workbook(**valid_rows())).headers["Location"]
    client.post("/logout", data={"csrf_token": csrf_token(client, "/staff/imports")})
    login(client, "imp_city2")
    assert client.get(url).status_code == 404
    assert client.get(url + "/status").status_code == 404


def test_town_staff_see_other_town_rows_refused(client, world):
    login(client, "imp_town")
    households = [("H100", "荆河街道", "平安社区", "外镇", "平安社区2号", "")]
    page = client.get(upload(client, workbook(households)).headers["Location"]).get_data(as_text=True)
    assert 'id="import-errors"' in page and 'id="confirm-form"' not in page


def test_the_preview_lists_every_sheet_and_what_happens_to_it(client, world):
    login(client, "imp_city")
    page = client.get(upload(client, government_workbook()).headers["Location"]).get_data(as_text=True)
    sheets = re.findall(
        r'<tr class="[^"]*" data-outcome="(\w+)"><td class="text-nowrap">([^<]+)</td><td>([^<]+)</td>', page
    )
    assert [(outcome, name) for outcome, name, _reason in sheets] == [
        ("imported", "困难家庭"),
        ("imported", "家庭成员"),
        ("imported", "服务需求"),
        ("ignored", "填表说明"),
    ]
    assert "作为“家庭成员”导入（表头在第 3 行）" in sheets[1][2] and "没有数据表格" in sheets[3][2]
    assert 'id="confirm-form"' in page


def test_an_unrecognised_sheet_blocks_the_import_and_is_shown(client, world):
    login(client, "imp_city")
    data = raw_xlsx(
        {
            "家庭": sheet_xml([HOUSEHOLD_HEADER, *valid_rows()["households"]]),
            "补充<名单>": sheet_xml([["名字", "证件", "关系"], ["张小", "370481", "子女"]]),
        }
    )
    page = client.get(upload(client, data).headers["Location"]).get_data(as_text=True)
    assert 'data-outcome="error"><td class="text-nowrap">补充&lt;名单&gt;</td>' in page
    assert 'id="import-errors"' in page and 'id="confirm-form"' not in page


def test_a_broken_workbook_gets_its_reason_on_the_upload_page(client, world):
    login(client, "imp_city")
    response = upload(client, workbook(**valid_rows())[:2000])
    assert response.status_code == 400 and "损坏或不完整" in response.get_data(as_text=True)


def _confirm(client, response) -> str:
    preview_url = response.headers["Location"]
    token = re.search(r"/staff/imports/([0-9a-f]{32})", preview_url).group(1)
    done = client.post(f"/staff/imports/{token}/confirm", data={"csrf_token": csrf_token(client, preview_url)},
                       follow_redirects=True)
    assert done.status_code == 200
    return done.get_data(as_text=True)


def test_volunteers_imported_as_approved_through_the_page_show_their_imported_hours(client, world):
    from datetime import date

    from socialforce.platform.models import Provider, ProviderStatus, Volunteer
    from tests.fixtures.import_files import person, volunteers_workbook

    login(client, "imp_city")
    page = client.get("/staff/imports").get_data(as_text=True)
    assert 'name="volunteer_status"' in page
    row = ["王芳", "身份证", person(700, date(1991, 2, 3)), "13900001111", "37048100070", "2020-03-04", 8.5,
           "龙泉义工队", "精神慰藉", "龙泉街道"]
    response = upload(client, volunteers_workbook([row]), "志愿者.xlsx", volunteer_status="approved")
    assert response.status_code == 302
    preview = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'data-kind="volunteers"' in preview and 'data-kind="households"' not in preview
    done = _confirm(client, response)
    assert "志愿者 1" in done or "Volunteers 1" in done
    provider = db.session.scalar(sa.select(Provider).join(Volunteer))
    assert provider.status == ProviderStatus.approved
    detail = client.get(f"/staff/providers/{provider.id}").get_data(as_text=True)
    assert 'id="imported-hours"' in detail and "8.5" in detail and "37048100070" in detail
    assert person(700, date(1991, 2, 3)) not in detail


def test_a_bad_volunteer_rule_is_refused_on_the_form(client, world):
    from tests.fixtures.import_files import volunteers_workbook

    login(client, "imp_city")
    response = upload(client, volunteers_workbook([]), "志愿者.xlsx", volunteer_status="boss")
    assert response.status_code == 400


def test_corrections_imported_through_the_page_show_on_the_timeline(client, world):
    from tests.fixtures.import_files import corrections_workbook

    login(client, "imp_city")
    household = db.session.scalar(sa.select(Household).where(Household.code == "HDB1"))
    response = upload(client, corrections_workbook([("HDB1", "退出救助", "2024-05-20", "", "", "", "", "收入超标")]),
                      "更正.xlsx")
    _confirm(client, response)
    timeline = client.get(f"/staff/households/{household.id}/timeline").get_data(as_text=True)
    assert 'id="household-changes"' in timeline and "2024-05-20" in timeline and "收入超标" in timeline
