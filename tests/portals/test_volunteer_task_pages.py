"""The volunteer's task pages: time, village (never the address), places left and what to bring; the waitlist of a
full task through the pages; staff publish a task with what to bring; a volunteer registered with free time sees
tasks the moment staff approve; staff turn a registration down with a reason the volunteer reads."""
from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from socialforce.platform import idnumber, weekmask
from socialforce.platform.extensions import db
from socialforce.platform.i18n import local_time
from socialforce.platform.models import (
    Notification,
    Order,
    Provider,
    ProviderStatus,
    Role,
    ServiceItem,
    TaskSignup,
    Volunteer,
    VolunteerTask,
    WaitlistEntry,
    WaitlistState,
    utcnow,
)
from socialforce.platform.services import dispatch, visits, volunteer_tasks
from tests import factories
from tests.conftest import csrf_token, login

NOW = utcnow().replace(second=0, microsecond=0)


def volunteer(username: str, town_code: str = "longquan") -> Volunteer:
    """An approved volunteer with a login (demo password) and an offer for daily care."""
    v = factories.volunteer(town_code)
    factories.offer(v.provider, ("daily_care",), (town_code,))
    factories.user(username, Role.volunteer, provider_id=v.provider_id)
    return v


def published(slots: int = 2, bring: str | None = "手套、口罩") -> VolunteerTask:
    order = volunteer_tasks.publish(factories.item(factories.household(), "daily_care", slots=slots), None, bring, NOW)
    return db.session.scalar(sa.select(VolunteerTask).where(VolunteerTask.order_id == order.id))


def page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, path
    return response.get_data(as_text=True)


def test_the_task_list_and_page_show_time_village_places_left_and_what_to_bring(client):
    me = volunteer("vol-a")
    t = published(slots=3)
    holder = volunteer("vol-b")
    dispatch.sign_up(t.id, holder, NOW)
    start = (NOW + timedelta(days=3)).replace(hour=1, minute=0)  # 09:00 in Shanghai
    visits.plan_visit(t.order, visits.Assignee(volunteer_id=holder.id), start, 90, None, NOW)
    household = t.order.item.household
    db.session.commit()
    login(client, "vol-a")
    for html in (page(client, "/volunteer/tasks"), page(client, f"/volunteer/tasks/{t.id}")):
        assert local_time(start) in html
        assert household.village.name in html and household.address not in html and household.head_name not in html
        assert "2 / 3" in html  # places left of places
        assert "手套、口罩" in html
    assert me.id not in set(db.session.scalars(sa.select(TaskSignup.volunteer_id)))


def test_without_a_planned_visit_the_task_shows_its_weekly_windows():
    t = published()
    facts = volunteer_tasks.task_facts([t.id], NOW)[t.id]
    assert facts.when is None and len(facts.window_cells) == 21


def test_a_full_task_offers_the_waitlist_and_a_freed_place_reaches_the_volunteer_through_the_pages(client):
    holder, me = volunteer("vol-holder"), volunteer("vol-me")
    t = published(slots=1)
    dispatch.sign_up(t.id, holder, NOW)
    db.session.commit()
    login(client, "vol-me")
    html = page(client, "/volunteer/tasks")
    assert "加入候补" in html and f"/volunteer/tasks/{t.id}/waitlist" in html
    token = csrf_token(client, f"/volunteer/tasks/{t.id}")
    response = client.post(f"/volunteer/tasks/{t.id}/waitlist", data={"csrf_token": token}, follow_redirects=True)
    assert "您已加入候补名单" in response.get_data(as_text=True)
    assert "您在候补名单上排第 1 位" in page(client, f"/volunteer/tasks/{t.id}")

    dispatch.withdraw(t.id, db.session.get(Volunteer, holder.id), None, "临时出差，无法前往", utcnow())
    db.session.commit()
    (note,) = db.session.scalars(sa.select(Notification).where(Notification.kind == "waitlist_offer"))
    assert note.link == f"/volunteer/tasks/{t.id}"
    html = page(client, note.link)
    assert "确认名额" in html and "有一个名额留给您" in html
    response = client.post(f"/volunteer/tasks/{t.id}/waitlist/confirm", data={"csrf_token": token},
                           follow_redirects=True)
    assert "名额已确认给您" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalar(sa.select(TaskSignup.volunteer_id).where(TaskSignup.task_id == t.id)) == me.id
    assert "您已报名该任务" in page(client, f"/volunteer/tasks/{t.id}")


def test_leaving_the_waitlist_through_the_page(client):
    holder, _ = volunteer("vol-holder"), volunteer("vol-me")
    t = published(slots=1)
    dispatch.sign_up(t.id, holder, NOW)
    db.session.commit()
    login(client, "vol-me")
    token = csrf_token(client, f"/volunteer/tasks/{t.id}")
    client.post(f"/volunteer/tasks/{t.id}/waitlist", data={"csrf_token": token})
    response = client.post(f"/volunteer/tasks/{t.id}/waitlist/leave", data={"csrf_token": token},
                           follow_redirects=True)
    assert "您已退出候补名单" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalar(sa.select(WaitlistEntry.state)) == WaitlistState.left
    response = client.post(f"/volunteer/tasks/{t.id}/waitlist/leave", data={"csrf_token": token},
                           follow_redirects=True)
    assert "您不在该任务的候补名单上" in response.get_data(as_text=True)
    assert client.post("/volunteer/tasks/999999/waitlist", data={"csrf_token": token}).status_code == 404


def staff_user(username: str = "town-a") -> None:
    factories.user(username, Role.town_staff, town_id=factories.town("longquan").id)


def test_staff_publish_a_task_with_what_to_bring_and_too_long_a_text_is_refused_beside_the_field(client):
    staff_user()
    it = factories.item(factories.household(), "daily_care", slots=2)
    db.session.commit()
    login(client, "town-a")
    token = csrf_token(client, f"/staff/items/{it.id}")
    response = client.post(f"/staff/items/{it.id}/dispatch", data={"csrf_token": token, "bring": "x" * 201})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "“需携带物品”最多 200 个字符" in html and 'id="bring"' in html
    assert db.session.scalar(sa.select(sa.func.count(Order.id))) == 0
    response = client.post(f"/staff/items/{it.id}/dispatch", data={"csrf_token": token, "bring": " 雨伞 "})
    assert response.status_code == 302
    assert db.session.scalar(sa.select(VolunteerTask.bring)) == "雨伞"


VALID_ID = idnumber.make("370481", date(1991, 6, 18), 321)


def signup_form(client, **changes) -> dict:
    data = {"real_name": "李志愿", "id_number": VALID_ID, "phone": "13912345678",
            "town_id": str(factories.town("longquan").id), "skills": ["daily_care"],
            "availability": [str(b) for b in range(21)], "username": "lizy", "password": "secret-pass-1",
            "confirm": "secret-pass-1", "csrf_token": csrf_token(client, "/volunteer-signup")}
    data.update(changes)
    return data


def test_a_signup_without_free_time_is_refused_beside_the_grid_and_writes_nothing(client):
    data = signup_form(client)
    del data["availability"]
    response = client.post("/volunteer-signup", data=data)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "请至少勾选一个您每周通常有空的时段" in html and 'name="availability"' in html
    assert db.session.scalar(sa.select(sa.func.count(Volunteer.id))) == 0


def test_a_volunteer_registered_with_free_time_sees_matching_tasks_as_soon_as_staff_approve(client, app):
    response = client.post("/volunteer-signup", data=signup_form(client))
    assert response.status_code == 302
    volunteer_row = db.session.scalar(sa.select(Volunteer))
    assert volunteer_row.availability == weekmask.ALL and volunteer_row.skills == "daily_care"
    t = published(slots=1)
    staff_user()
    db.session.commit()
    login(client, "lizy", "secret-pass-1")
    html = page(client, "/volunteer/tasks")
    assert "等待" in html and f"/volunteer/tasks/{t.id}/signup" not in html  # pending: nothing offered yet
    staff = app.test_client()
    login(staff, "town-a")
    response = staff.post(f"/staff/providers/{volunteer_row.provider_id}/approve",
                          data={"csrf_token": csrf_token(staff, f"/staff/providers/{volunteer_row.provider_id}")})
    assert response.status_code == 303
    html = page(client, "/volunteer/tasks")
    assert f"/volunteer/tasks/{t.id}/signup" in html and t.order.item.household.village.name in html


def test_staff_turn_a_registration_down_with_a_reason_the_volunteer_is_told_and_reads(client, app):
    client.post("/volunteer-signup", data=signup_form(client))
    provider_id = db.session.scalar(sa.select(Provider.id))
    staff_user()
    db.session.commit()
    staff = app.test_client()
    login(staff, "town-a")
    token = csrf_token(staff, f"/staff/providers/{provider_id}")
    assert "不予通过" in page(staff, f"/staff/providers/{provider_id}")
    response = staff.post(f"/staff/providers/{provider_id}/reject", data={"csrf_token": token, "reason": ""})
    assert response.status_code == 400
    assert 'id="reject-reason"' in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Provider, provider_id).status == ProviderStatus.pending
    response = staff.post(f"/staff/providers/{provider_id}/reject",
                          data={"csrf_token": token, "reason": "身份证与本人信息不一致"})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Provider, provider_id).status == ProviderStatus.suspended
    note = db.session.scalar(sa.select(Notification).where(Notification.kind == "volunteer_rejected"))
    assert note is not None and note.params == {}
    login(client, "lizy", "secret-pass-1")
    for path in ("/volunteer/", "/volunteer/tasks"):  # the notice links to the home page
        html = page(client, path)
        assert "您的注册未通过审核" in html and "身份证与本人信息不一致" in html


def test_only_a_volunteer_registration_can_be_turned_down(client):
    agency, _ = factories.agency("某社工机构")
    agency.status = ProviderStatus.pending
    staff_user()
    db.session.commit()
    login(client, "town-a")
    token = csrf_token(client, f"/staff/providers/{agency.id}")
    response = client.post(f"/staff/providers/{agency.id}/reject", data={"csrf_token": token, "reason": "材料不全"},
                           follow_redirects=True)
    assert "只有志愿者的注册可以不予通过" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Provider, agency.id).status == ProviderStatus.pending


def test_items_of_a_volunteer_task_are_only_published_once():
    t = published()
    item = db.session.get(ServiceItem, t.order.item_id)
    assert volunteer_tasks.tasks_of_items([item.id]) == {item.id: t.id}


def test_staff_change_what_to_bring_of_a_live_task_in_their_town_only(client, app):
    staff_user()
    factories.user("town-j", Role.town_staff, town_id=factories.town("jinghe").id)
    t = published(slots=1, bring=None)
    db.session.commit()
    login(client, "town-a")
    path = f"/staff/items/{t.order.item_id}"
    assert f"/staff/tasks/{t.id}/bring" in page(client, path)
    token = csrf_token(client, path)
    response = client.post(f"/staff/tasks/{t.id}/bring", data={"csrf_token": token, "bring": "y" * 201})
    assert response.status_code == 400 and "“需携带物品”最多 200 个字符" in response.get_data(as_text=True)
    response = client.post(f"/staff/tasks/{t.id}/bring", data={"csrf_token": token, "bring": "雨衣"},
                           follow_redirects=True)
    assert "需携带物品已保存" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(VolunteerTask, t.id).bring == "雨衣"
    other = app.test_client()
    login(other, "town-j")
    token = csrf_token(other, "/staff/")
    assert other.post(f"/staff/tasks/{t.id}/bring", data={"csrf_token": token, "bring": "x"}).status_code == 404
    db.session.expire_all()
    assert db.session.get(VolunteerTask, t.id).bring == "雨衣"
