"""Volunteer sign-up: bad input gets a message beside its field in Chinese and writes nothing."""
from datetime import date

import pytest
import sqlalchemy as sa

from socialforce.platform import idnumber
from socialforce.platform.extensions import db
from socialforce.platform.models import Provider, ProviderStatus, Town, User, Volunteer
from tests.conftest import csrf_token

VALID_ID = idnumber.make("370481", date(1990, 5, 17), 123)


def form(client, **changes):
    town_id = db.session.scalar(sa.select(Town.id).where(Town.code == "longquan"))
    data = {"real_name": "王小明", "id_number": VALID_ID, "phone": "13812345678", "town_id": str(town_id),
            "skills": ["tutoring"], "username": "wangxm", "password": "secret-pass-1", "confirm": "secret-pass-1",
            "csrf_token": csrf_token(client, "/volunteer-signup")}
    data.update(changes)
    return data


def counts():
    return tuple(db.session.scalar(sa.select(sa.func.count()).select_from(m)) for m in (Provider, Volunteer, User))


def test_valid_signup_creates_a_pending_volunteer_with_masked_id(client):
    response = client.post("/volunteer-signup", data=form(client))
    assert response.status_code == 302
    volunteer = db.session.scalar(sa.select(Volunteer))
    assert volunteer.id_masked == idnumber.mask(VALID_ID)
    assert VALID_ID not in volunteer.id_number_enc
    assert volunteer.provider.status == ProviderStatus.pending


@pytest.mark.parametrize("changes, message", [
    ({"id_number": VALID_ID[:17] + ("1" if VALID_ID[17] != "1" else "2")}, "最后一位"),
    ({"id_number": "37048119900231123X"}, "出生日期"),
    ({"id_number": "3704811990"}, "18"),
    ({"town_id": "9999"}, "镇街"),
    ({"real_name": ""}, "必填"),
    ({"phone": "12345"}, "11位"),
    ({"confirm": "different"}, "不一致"),
])
def test_bad_input_is_shown_beside_the_field_and_nothing_is_written(client, changes, message):
    before = counts()
    response = client.post("/volunteer-signup", data=form(client, **changes))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'class="invalid-feedback"' in html and message in html
    assert counts() == before


def test_the_same_id_cannot_register_twice(client):
    client.post("/volunteer-signup", data=form(client))
    response = client.post("/volunteer-signup", data=form(client, username="another"))
    assert response.status_code == 409
    assert "已经注册" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Volunteer.id))) == 1
