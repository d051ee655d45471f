"""A volunteer reaches only the counties its provider serves (`scoping.households_served_by`): a task just across a
county border, inside the volunteer's travel radius, is not ranked, not offered as a full task to wait for, has no
page and cannot be taken (portal and API) until the other county is granted to the provider."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from socialforce.platform import weekmask
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    Order,
    OutboxMessage,
    OutboxStatus,
    Role,
    ServiceItem,
    TaskSignup,
    Town,
    User,
    VolunteerTask,
    provider_counties,
    utcnow,
)
from socialforce.platform.services import (
    ServiceError,
    api_tokens,
    dispatch,
    matching,
    notifications,
    volunteer_tasks,
    volunteers,
)
from tests import factories
from tests.conftest import csrf_token, empty_tables
from tests.security.filling import client_for


def _task(town_code: str, slots: int = 1) -> ServiceItem:
    household = factories.household(town_code)
    item = factories.item(household, "daily_care", slots=slots, windows=weekmask.ALL)
    dispatch.dispatch(item, dispatch.Choice(provider_id=None), None, utcnow())
    return item


def _task_id(item: ServiceItem) -> int:
    return db.session.scalar(sa.select(VolunteerTask.id).join(Order).where(Order.item_id == item.id))


@pytest.fixture
def border(app):
    """A volunteer of 龙泉街道 (5 km radius) and a town of a second county 1 km away, each with one open task."""
    matching.invalidate()
    longquan = db.session.scalar(sa.select(Town).where(Town.code == "longquan"))
    county = factories.second_county("bianjing", "边境街道", "Bianjing Subdistrict", longquan.lat + 0.009, longquan.lon)
    volunteer = factories.volunteer("longquan", skills="daily_care")
    factories.offer(volunteer.provider, ("daily_care",), ("longquan",))
    factories.user("vol", Role.volunteer, provider_id=volunteer.provider_id)
    home, across = _task("longquan"), _task("bianjing")
    db.session.commit()
    yield {"volunteer": volunteer, "home": home, "across": across, "county_id": county.id}
    db.session.rollback()
    empty_tables()
    factories.drop_county(county.id)


def _ranked(volunteer) -> set[int]:
    db.session.expire_all()
    return {c.item_id for c in matching.tasks_for_volunteer(volunteer)}


def test_a_task_across_the_county_border_is_not_ranked_until_the_county_is_granted(border):
    volunteer, home, across = border["volunteer"], border["home"], border["across"]
    assert _ranked(volunteer) == {home.id}
    assert matching.eligibility_problems(volunteer, across) == ["county_not_served"]
    db.session.execute(provider_counties.insert().values(provider_id=volunteer.provider_id,
                                                         county_id=border["county_id"]))
    db.session.commit()
    assert _ranked(volunteer) == {home.id, across.id}
    assert not matching.eligibility_problems(volunteer, across)


def test_a_full_task_across_the_border_is_not_offered_for_the_waitlist(border):
    for item in (border["home"], border["across"]):
        db.session.get(VolunteerTask, _task_id(item)).taken = 1
    db.session.commit()
    assert volunteer_tasks.full_tasks_for(border["volunteer"]) == [_task_id(border["home"])]


def test_signing_up_across_the_border_is_404_and_changes_nothing(border):
    volunteer, across = border["volunteer"], _task_id(border["across"])
    with pytest.raises(ServiceError) as refused:
        volunteer_tasks.sign_up_if_fitting(across, volunteer)
    assert refused.value.status == 404
    db.session.rollback()
    assert db.session.get(VolunteerTask, across).taken == 0
    assert volunteer_tasks.sign_up_if_fitting(_task_id(border["home"]), volunteer).task_id == _task_id(border["home"])


def test_the_portal_and_the_api_hide_the_task_across_the_border(border, app):
    across, home = _task_id(border["across"]), _task_id(border["home"])
    client = client_for(app, "vol")
    assert client.get(f"/volunteer/tasks/{across}").status_code == 404
    assert client.get(f"/volunteer/tasks/{home}").status_code == 200
    listing = client.get("/volunteer/tasks").get_data(as_text=True)
    assert f"/volunteer/tasks/{home}" in listing and f"/volunteer/tasks/{across}" not in listing
    client.post(f"/volunteer/tasks/{across}/signup", data={"csrf_token": csrf_token(client, "/volunteer/tasks")})
    assert db.session.scalar(sa.select(sa.func.count()).select_from(TaskSignup)) == 0
    user = db.session.scalar(sa.select(User).where(User.username == "vol"))
    _token, secret = api_tokens.create(user, "test", api_tokens.allowed_scopes(user), 30)
    db.session.commit()
    api = app.test_client()
    headers = {"Authorization": f"Bearer {secret}"}
    listed = api.get("/api/v1/volunteer/tasks", headers=headers).get_json()
    assert [row["task_id"] for row in listed["items"]] == [home]
    assert api.post(f"/api/v1/volunteer/tasks/{across}/signup", headers=headers).status_code == 404
    assert db.session.get(VolunteerTask, across).taken == 0


def test_a_provider_chooses_its_home_town_only_in_its_home_county_even_when_granted_another(border, app):
    provider, _worker = factories.agency("边界测试社工中心", "longquan")
    factories.user("agency", Role.agency_admin, provider_id=provider.id)
    db.session.execute(provider_counties.insert().values(provider_id=provider.id, county_id=border["county_id"]))
    db.session.commit()
    bianjing = db.session.scalar(sa.select(Town.id).where(Town.code == "bianjing"))
    client = client_for(app, "agency")
    page = client.get("/agency/profile/edit").get_data(as_text=True)
    assert "龙泉街道" in page and "边境街道" not in page
    refused = client.post("/agency/profile/edit", data={
        "csrf_token": csrf_token(client, "/agency/profile/edit"), "name": provider.name, "contact_name": "张三",
        "town_id": bianjing, "radius_km": "5"})
    assert refused.status_code == 400
    db.session.expire_all()
    assert db.session.get(type(provider), provider.id).town_id != bianjing


def test_a_volunteer_moves_home_only_within_its_county(border, app):
    volunteer = border["volunteer"]
    bianjing = db.session.scalar(sa.select(Town.id).where(Town.code == "bianjing"))
    page = client_for(app, "vol").get("/volunteer/profile").get_data(as_text=True)
    assert "龙泉街道" in page and "边境街道" not in page
    with pytest.raises(ServiceError) as refused:
        volunteers.update_profile(volunteer, volunteers.ProfileChange(skills=("daily_care",), town_id=bianjing),
                                  db.session.scalar(sa.select(User).where(User.username == "vol")))
    assert refused.value.status == 400 and refused.value.field == "town_id"
    db.session.rollback()
    assert db.session.get(type(volunteer), volunteer.id).provider.town_id != bianjing


def test_the_public_sign_up_lists_every_countys_towns_grouped_by_county(border, client):
    page = client.get("/volunteer-signup").get_data(as_text=True)
    assert "龙泉街道" in page and "边境街道" in page
    assert '<optgroup label="薛城区' in page


def test_county_staff_see_and_retry_only_their_countys_failed_deliveries(border, app):
    home = db.session.scalar(sa.select(Town.county_id).where(Town.code == "longquan"))
    bianjing = db.session.scalar(sa.select(Town.id).where(Town.code == "bianjing"))
    factories.user("city_a", Role.city_staff, county_id=home)
    factories.user("city_b", Role.city_staff, county_id=border["county_id"])
    ours, theirs = factories.user("town_a", Role.town_staff, town_id=db.session.scalar(
        sa.select(Town.id).where(Town.code == "longquan"))), factories.user("town_b", Role.town_staff, town_id=bianjing)
    failed = {}
    for u, error in ((ours, "ConnectionError: ours down"), (theirs, "ConnectionError: theirs down")):
        note = notifications.notify([u.id], "order_expired", {"order_id": 7})[0]
        message = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.notification_id == note.id))
        message.status, message.attempts, message.last_error = OutboxStatus.failed, 8, error
        failed[u.username] = message.id
    db.session.commit()
    for username, seen, unseen in (("city_a", "ours", "theirs"), ("city_b", "theirs", "ours")):
        html = client_for(app, username).get("/inbox/failed").get_data(as_text=True)
        assert f"ConnectionError: {seen} down" in html and f"ConnectionError: {unseen} down" not in html, username
    client = client_for(app, "city_a")
    client.post(f"/inbox/failed/{failed['town_b']}/retry", data={"csrf_token": csrf_token(client, "/inbox/")})
    db.session.expire_all()
    assert db.session.get(OutboxMessage, failed["town_b"]).status == OutboxStatus.failed
    with pytest.raises(ServiceError) as refused:
        notifications.retry_failed(failed["town_b"], db.session.scalar(sa.select(User).where(User.username == "city_a")))
    assert refused.value.status == 404
