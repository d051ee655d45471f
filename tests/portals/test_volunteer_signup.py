"""Volunteer sign-up: bad input gets a message beside its field in Chinese and writes nothing."""
import json
import statistics
import threading
import time
from datetime import date

import pytest
import sqlalchemy as sa

from socialforce.platform import idnumber
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    AuditLog,
    Notification,
    Provider,
    ProviderStatus,
    Role,
    Town,
    User,
    Volunteer,
)
from socialforce.platform.services import notifications
from tests import factories
from tests.conftest import IsolatedClient, csrf_token, login

VALID_ID = idnumber.make("370481", date(1990, 5, 17), 123)
OTHER_ID = next(n for n in (idnumber.make("370481", date(1985, 2, 3), s) for s in range(100)) if n.endswith("X"))


def form(client, **changes):
    town_id = db.session.scalar(sa.select(Town.id).where(Town.code == "longquan"))
    data = {"real_name": "王小明", "id_number": VALID_ID, "phone": "13812345678", "town_id": str(town_id),
            "skills": ["tutoring"], "availability": ["15", "16"], "username": "wangxm", "password": "secret-pass-1", "confirm": "secret-pass-1",
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


def town_staff(town_code: str = "longquan") -> User:
    """A town staff user who receives the sign-up cases of that town."""
    town = db.session.scalar(sa.select(Town).where(Town.code == town_code))
    return factories.user(f"staff_{town_code}", Role.town_staff, town_id=town.id)


def signup(client, **changes) -> tuple[int, list[str]]:
    """POST the sign-up form; the status and the messages the visitor is shown next."""
    response = client.post("/volunteer-signup", data=form(client, **changes))
    with client.session_transaction() as session:
        shown = [message for _, message in session.pop("_flashes", [])]
    return response.status_code, shown


def cases(kind: str) -> list[Notification]:
    return db.session.scalars(sa.select(Notification).where(Notification.kind == kind)).all()


def test_a_registered_id_in_any_spelling_gets_the_same_answer_creates_nothing_and_reaches_town_staff(client):
    staff, elsewhere = town_staff(), town_staff("jinghe")
    db.session.commit()
    first = signup(client, id_number=OTHER_ID)
    registered = db.session.scalar(sa.select(Volunteer).where(Volunteer.id_masked == idnumber.mask(OTHER_ID)))
    before = counts()
    jinghe = db.session.scalar(sa.select(Town.id).where(Town.code == "jinghe"))
    again = signup(client, id_number=factories.odd_spelling(OTHER_ID), username="someone-else", real_name="冒名者",
                   town_id=str(jinghe))
    assert again == first and first[0] == 302 and len(first[1]) == 1
    assert counts() == before
    assert db.session.scalar(sa.select(User.id).where(User.username == "someone-else")) is None
    [case] = cases("volunteer_signup_id_taken")  # to the staff who hold the registered volunteer, not `elsewhere`
    assert case.user_id == staff.id != elsewhere.id and case.params["provider_id"] == registered.provider_id
    assert case.link == f"/staff/providers/{registered.provider_id}"
    assert "荆河街道" in notifications.render(case, "zh_CN")
    audit = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "volunteer_signup_id_taken"))
    assert audit.object_id == registered.provider_id
    assert OTHER_ID not in json.dumps([case.params, audit.detail])


def test_a_taken_username_gets_the_same_answer_and_a_pending_registration_under_a_free_name(client):
    staff = town_staff()
    factories.user("wangxm", Role.city_staff)
    db.session.commit()
    shown = signup(client)
    assert shown == signup(client, id_number=OTHER_ID, username="newcomer")
    assert len(cases("volunteer_signup_username_taken")) == 1
    volunteer = db.session.scalar(sa.select(Volunteer).where(Volunteer.id_masked == idnumber.mask(VALID_ID)))
    [given] = db.session.scalars(sa.select(User.username).where(User.provider_id == volunteer.provider_id)).all()
    assert given.startswith("wangxm-") and volunteer.provider.status == ProviderStatus.pending
    [case] = cases("volunteer_signup_username_taken")
    assert case.user_id == staff.id and case.params == {"provider_id": volunteer.provider_id}
    login(client, staff.username)
    page = client.get(case.link).get_data(as_text=True)
    assert given in page


def test_a_registered_id_costs_about_as_much_time_as_a_new_registration(client, production_hashing):
    def timed(**changes) -> float:
        start = time.perf_counter()
        assert signup(client, **changes)[0] == 302
        return time.perf_counter() - start

    signup(client)
    ids = [idnumber.make("370481", date(1991, 1, 1), n) for n in range(5)]
    new = statistics.median(timed(id_number=number, username=f"new{n}") for n, number in enumerate(ids))
    taken = statistics.median(timed(username=f"dup{n}") for n in range(5))
    assert new / 3 < taken < new * 3, (new, taken)


@pytest.mark.parametrize("same", ["id_number", "username"])
def test_simultaneous_signups_with_the_same_id_or_username_all_get_the_answer(app, same):
    staff = town_staff()
    db.session.commit()
    threads_n = 6
    app.test_client_class = IsolatedClient
    clients = [app.test_client() for _ in range(threads_n)]
    forms = [form(c, **({"username": f"racer{n}"} if same == "id_number" else
                        {"id_number": idnumber.make("370481", date(1992, 2, 2), n)})) for n, c in enumerate(clients)]
    barrier, statuses = threading.Barrier(threads_n), []

    def post(c, data) -> None:
        barrier.wait()
        statuses.append(c.post("/volunteer-signup", data=data).status_code)

    threads = [threading.Thread(target=post, args=pair) for pair in zip(clients, forms, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    db.session.expire_all()
    assert statuses == [302] * threads_n
    volunteers = db.session.scalar(sa.select(sa.func.count(Volunteer.id)))
    kind = f"volunteer_signup_{same.removesuffix('_number')}_taken"
    assert (volunteers, len(cases(kind))) == ((1, threads_n - 1) if same == "id_number" else (threads_n, threads_n - 1))
    assert all(case.user_id == staff.id for case in cases(kind))
