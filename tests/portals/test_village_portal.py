"""The village portal (村居协理员), phone-first: the village's households (masked, no reveal, never another
village's), recording a need as a draft, the staff's review with its count on their overview, the returned
reason, the village's follow-up queue, and town staff creating the assistant's account."""
from __future__ import annotations

import sqlalchemy as sa

from socialforce.platform.extensions import db
from socialforce.platform.models import DraftStatus, HouseholdFeedback, ItemDraft, Role, ServiceItem, User
from socialforce.platform.models.orders import EvaluationSource
from socialforce.platform.services import accounts, outcomes
from tests import factories
from tests.conftest import csrf_token, login
from tests.platform.test_outcomes import GOOD, served_order
from tests.platform.test_visits import NOW

PASSWORD = "pw-12345678"


def assistant_for(household, username: str = "va1"):
    return accounts.create_user(username, PASSWORD, Role.village_assistant, "协理员", village_id=household.village_id,
                                town_id=household.town_id)


def test_the_assistant_sees_the_villages_households_masked_and_never_another_village(client):
    mine, other = factories.household(members=2), factories.household()
    item = factories.item(mine)
    assistant_for(mine)
    db.session.commit()
    landed = login(client, "va1", PASSWORD)
    page = landed.get_data(as_text=True)
    assert landed.request.path == "/village/" and 'name="viewport"' in page
    assert mine.code in page and other.code not in page
    assert mine.head_name not in page and mine.head_name[0] + "*" in page  # masked head of household
    assert "日间照料" in page or item.category.name_zh in page
    detail = client.get(f"/village/households/{mine.id}").get_data(as_text=True)
    assert mine.address not in detail and "reveal" not in detail
    for member in mine.members:
        assert member.id_masked not in detail and member.name not in detail
    assert client.get(f"/village/households/{other.id}").status_code == 404
    assert client.get("/staff/").status_code == 403 and client.get(f"/staff/households/{mine.id}").status_code == 403


def test_a_need_goes_to_town_staff_who_approve_or_return_it(client):
    h = factories.household()
    assistant_for(h)
    accounts.create_user("town1", PASSWORD, Role.town_staff, "龙泉", town_id=factories.town("longquan").id)
    db.session.commit()
    login(client, "va1", PASSWORD)
    form = f"/village/households/{h.id}"
    token = csrf_token(client, form)
    bad = client.post(f"{form}/needs", data={"csrf_token": token, "category_id": "", "description": "助浴"})
    assert bad.status_code == 400 and "请选择服务类别" in bad.get_data(as_text=True) and "助浴" in bad.get_data(
        as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(ItemDraft.id))) == 0
    daily = factories.category("daily_care").id
    for text in ("老人需要助浴", "屋顶漏雨"):
        sent = client.post(f"{form}/needs", data={"csrf_token": token, "category_id": daily, "description": text,
                                                  "priority": "high"}, follow_redirects=True)
        assert "已提交镇街工作人员审核" in sent.get_data(as_text=True)
    client.post("/logout", data={"csrf_token": token})

    login(client, "town1", PASSWORD)
    overview = client.get("/staff/").get_data(as_text=True)
    assert "/staff/village-needs" in overview and "2" in overview
    listed = client.get("/staff/village-needs").get_data(as_text=True)
    assert "老人需要助浴" in listed and "屋顶漏雨" in listed
    first, second = db.session.scalars(sa.select(ItemDraft.id).order_by(ItemDraft.id)).all()
    token = csrf_token(client, "/staff/village-needs")
    client.post(f"/staff/village-needs/{first}/approve", data={"csrf_token": token})
    again = client.post(f"/staff/village-needs/{first}/approve", data={"csrf_token": token})
    assert again.status_code == 404  # no longer awaiting review
    no_reason = client.post(f"/staff/village-needs/{second}/return", data={"csrf_token": token, "reason": ""},
                            follow_redirects=True)
    assert "请说明退回原因" in no_reason.get_data(as_text=True)
    client.post(f"/staff/village-needs/{second}/return", data={"csrf_token": token, "reason": "请先核实房屋产权"})
    db.session.expire_all()
    assert db.session.scalars(sa.select(ServiceItem.description)).all() == ["老人需要助浴"]
    assert [d.status for d in db.session.scalars(sa.select(ItemDraft).order_by(ItemDraft.id))] == [
        DraftStatus.approved, DraftStatus.returned]
    client.post("/logout", data={"csrf_token": token})

    login(client, "va1", PASSWORD)
    mine = client.get("/village/needs").get_data(as_text=True)
    assert "请先核实房屋产权" in mine and "已批准" in mine and "已退回" in mine


def test_another_towns_staff_neither_see_nor_review_the_draft(client):
    h = factories.household()
    va = assistant_for(h)
    draft = ItemDraft(household_id=h.id, category_id=factories.category("daily_care").id, description="助餐",
                      created_by_id=va.id)
    db.session.add(draft)
    accounts.create_user("town2", PASSWORD, Role.town_staff, "荆河", town_id=factories.town("jinghe").id)
    db.session.commit()
    login(client, "town2", PASSWORD)
    assert "助餐" not in client.get("/staff/village-needs").get_data(as_text=True)
    token = csrf_token(client, "/staff/village-needs")
    assert client.post(f"/staff/village-needs/{draft.id}/approve", data={"csrf_token": token}).status_code == 404
    db.session.expire_all()
    assert db.session.get(ItemDraft, draft.id).status == DraftStatus.pending


def test_the_assistant_records_the_households_satisfaction_from_the_villages_queue(client):
    order, provider_user = served_order()
    outcomes.record_outcome(order, EvaluationSource.provider, GOOD, provider_user, NOW)
    assistant_for(order.item.household)
    elsewhere = assistant_for(factories.household(), "va2")
    db.session.commit()
    login(client, "va1", PASSWORD)
    queue = client.get("/village/follow-ups").get_data(as_text=True)
    assert f"/village/follow-ups/{order.id}" in queue
    token = csrf_token(client, "/village/follow-ups")
    missing = client.post(f"/village/follow-ups/{order.id}", data={"csrf_token": token}, follow_redirects=True)
    assert "请选择家庭的满意度" in missing.get_data(as_text=True)
    done = client.post(f"/village/follow-ups/{order.id}", data={"csrf_token": token, "satisfaction": "4"},
                       follow_redirects=True)
    assert "家庭满意度回访已记录" in done.get_data(as_text=True)
    assert f"/village/follow-ups/{order.id}" not in done.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.execute(sa.select(HouseholdFeedback.satisfaction, HouseholdFeedback.channel)).all() == [
        (4, "assistant_visit")]
    client.post("/logout", data={"csrf_token": token})
    login(client, elsewhere.username, PASSWORD)
    assert f"/village/follow-ups/{order.id}" not in client.get("/village/follow-ups").get_data(as_text=True)
    token = csrf_token(client, "/village/follow-ups")
    assert client.post(f"/village/follow-ups/{order.id}", data={"csrf_token": token,
                                                                "satisfaction": "1"}).status_code == 404


def test_town_staff_create_a_village_assistant_for_a_village_of_their_town(client):
    mine, elsewhere = factories.household(), factories.household("jinghe")
    accounts.create_user("town1", PASSWORD, Role.town_staff, "龙泉", town_id=factories.town("longquan").id)
    db.session.commit()
    login(client, "town1", PASSWORD)
    form = client.get("/staff/accounts/new").get_data(as_text=True)
    assert f'value="{mine.village_id}"' in form and f'value="{elsewhere.village_id}"' not in form
    assert 'value="town_staff"' not in form
    token = csrf_token(client, "/staff/accounts/new")
    refused = client.post("/staff/accounts/new", data={"csrf_token": token, "role": "village_assistant",
                                                      "username": "va-x", "display_name": "李协理",
                                                      "village_id": elsewhere.village_id, "reset": "code"})
    assert refused.status_code == 400
    made = client.post("/staff/accounts/new", data={"csrf_token": token, "role": "village_assistant",
                                                   "username": "va-new", "display_name": "王协理",
                                                   "village_id": mine.village_id, "reset": "code"})
    assert made.status_code == 200
    db.session.expire_all()
    user = db.session.scalar(sa.select(User).where(User.username == "va-new"))
    assert (user.role, user.village_id, user.town_id) == (Role.village_assistant, mine.village_id, mine.town_id)
    assert client.get("/staff/accounts").status_code == 403  # the list stays the city's
