"""The village level (村居协理员): the role's constraints and scope, drafts that town staff approve or return
(atomically, once), the village's follow-up queue, notices to the village's assistants, and who creates them."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from socialforce.platform.extensions import db
from socialforce.platform.models import (
    DraftStatus,
    Household,
    HouseholdFeedback,
    ItemDraft,
    ItemStatus,
    Notification,
    Role,
    ServiceItem,
    User,
)
from socialforce.platform.models.orders import EvaluationSource
from socialforce.platform.scoping import household_filter
from socialforce.platform.services import ServiceError, account_admin, feedback, outcomes, village
from socialforce.platform.services.visits import jobs
from tests import factories
from tests.platform.test_outcomes import GOOD, served_order
from tests.platform.test_visits import NOW


def assistant(household, username: str = "va1") -> User:
    """A village assistant of the household's village."""
    return factories.user(username, Role.village_assistant, village_id=household.village_id,
                          town_id=household.town_id)


def town_staff(code: str = "longquan", username: str = "ts1") -> User:
    return factories.user(username, Role.town_staff, town_id=factories.town(code).id)


def need(category: str = "daily_care", text: str = "独居老人需要助浴", priority: str = "high") -> village.DraftInput:
    return village.DraftInput(category_id=factories.category(category).id, description=text, priority=priority)


def test_a_village_assistant_must_carry_a_village_and_needs_no_provider():
    h = factories.household()
    assert assistant(h).provider_id is None
    with pytest.raises(sa.exc.IntegrityError):
        factories.user("nobody", Role.village_assistant)
    db.session.rollback()


def test_an_assistant_sees_only_their_villages_households():
    mine, other_village, other_town = factories.household(), factories.household(), factories.household("jinghe")
    va = assistant(mine)
    seen = set(db.session.scalars(sa.select(Household.id).where(household_filter(va))))
    assert seen == {mine.id} and other_village.id not in seen and other_town.id not in seen
    rows = village.household_rows(db.session.scalars(village.village_households(va)).all())
    assert [r.household.id for r in rows] == [mine.id]


def test_a_draft_is_no_service_item_until_town_staff_approve_it_once():
    h = factories.household()
    va, clerk = assistant(h), town_staff()
    draft = village.submit_draft(h, need(), va)
    assert draft.status == DraftStatus.pending
    assert db.session.scalar(sa.select(sa.func.count(ServiceItem.id))) == 0  # invisible to matching and counts
    assert village.pending_count(clerk) == 1
    item = village.approve_draft(draft, clerk, NOW)
    assert (item.status, item.household_id, item.priority, item.description, item.created_by_id) == (
        ItemStatus.open, h.id, "high", "独居老人需要助浴", clerk.id)
    assert (draft.status, draft.item_id, draft.reviewed_by_id) == (DraftStatus.approved, item.id, clerk.id)
    with pytest.raises(ServiceError, match="已审核过"):
        village.approve_draft(draft, clerk, NOW)
    with pytest.raises(ServiceError, match="已审核过"):
        village.return_draft(draft, "重复", clerk, NOW)
    assert db.session.scalar(sa.select(sa.func.count(ServiceItem.id))) == 1
    assert village.pending_count(clerk) == 0


def test_a_returned_draft_carries_its_reason_for_the_assistant():
    h = factories.household()
    va, clerk = assistant(h), town_staff()
    draft = village.submit_draft(h, need(), va)
    with pytest.raises(ServiceError) as missing:
        village.return_draft(draft, "  ", clerk, NOW)
    assert missing.value.field == "reason" and draft.status == DraftStatus.pending
    village.return_draft(draft, "已有同类服务", clerk, NOW)
    mine = db.session.scalars(village.my_drafts(va)).all()
    assert [(d.status, d.review_note) for d in mine] == [(DraftStatus.returned, "已有同类服务")]
    assert db.session.scalar(sa.select(sa.func.count(ServiceItem.id))) == 0


def test_drafts_are_refused_outside_the_assistants_village_and_reviewed_only_by_its_town():
    mine, elsewhere = factories.household(), factories.household("jinghe")
    va = assistant(mine)
    with pytest.raises(ServiceError) as outside:
        village.submit_draft(elsewhere, need(), va)
    assert outside.value.status == 403
    draft = village.submit_draft(mine, need(), va)
    with pytest.raises(ServiceError) as other_town:
        village.approve_draft(draft, town_staff("jinghe", "ts2"), NOW)
    assert other_town.value.status == 403 and draft.status == DraftStatus.pending
    with pytest.raises(ServiceError) as by_assistant:
        village.approve_draft(draft, va, NOW)
    assert by_assistant.value.status == 403


@pytest.mark.parametrize(("data", "field"), [
    (village.DraftInput(category_id=None, description="x"), "category_id"),
    (village.DraftInput(category_id=-1, description="x"), "category_id"),
    ("blank", "description"),
    ("long", "description"),
    ("priority", "priority"),
])
def test_bad_draft_input_names_the_field_and_saves_nothing(data, field):
    h = factories.household()
    va = assistant(h)
    data = {"blank": need(text="   "), "long": need(text="长" * 501), "priority": need(priority="panic")}.get(
        data, data) if isinstance(data, str) else data
    with pytest.raises(ServiceError) as refused:
        village.submit_draft(h, data, va)
    assert refused.value.field == field
    assert db.session.scalar(sa.select(sa.func.count(ItemDraft.id))) == 0


def test_the_follow_up_queue_is_the_villages_and_completion_tells_its_assistants_only():
    order, provider_user = served_order()
    household = order.item.household
    va = assistant(household)
    other = factories.user("va-other", Role.village_assistant, village_id=factories.household().village_id,
                           town_id=household.town_id)
    outcomes.record_outcome(order, EvaluationSource.provider, GOOD, provider_user, NOW)
    told = set(db.session.execute(sa.select(Notification.user_id, Notification.kind)
                                  .where(Notification.kind == "order_completed")).tuples())
    assert (va.id, "order_completed") in told and (other.id, "order_completed") not in told
    link = db.session.scalar(sa.select(Notification.link).where(Notification.user_id == va.id))
    assert link == f"/village/households/{household.id}"
    assert [o.id for o in db.session.scalars(feedback.awaiting_feedback(va))] == [order.id]
    assert db.session.scalars(feedback.awaiting_feedback(other)).all() == []
    feedback.record_feedback(order, feedback.FeedbackInput(4, "assistant_visit"), va, NOW)
    assert db.session.scalar(sa.select(HouseholdFeedback.recorded_by_id)) == va.id


def test_a_missed_visit_tells_the_villages_assistants():
    order, _ = served_order(extra_planned=1)
    va = assistant(order.item.household)
    assert jobs.mark_missed(NOW + timedelta(days=3))["missed"] == 1
    assert db.session.scalar(sa.select(sa.func.count(Notification.id)).where(
        Notification.user_id == va.id, Notification.kind == "visit_missed")) == 1


def test_town_staff_create_village_assistants_for_their_towns_villages_only():
    mine, elsewhere = factories.household(), factories.household("jinghe")
    clerk = town_staff()
    user, issued = account_admin.create_account(account_admin.NewAccount(
        username="va-new", display_name="王协理", role="village_assistant", village_id=mine.village_id),
        clerk, NOW)
    assert (user.role, user.village_id, user.town_id, issued.kind) == (
        Role.village_assistant, mine.village_id, mine.town_id, "link")
    with pytest.raises(account_admin.AccountInvalid) as other_town:
        account_admin.create_account(account_admin.NewAccount(
            username="va-x", display_name="李协理", role="village_assistant", village_id=elsewhere.village_id),
            clerk, NOW)
    assert "village_id" in other_town.value.errors
    with pytest.raises(account_admin.AccountInvalid) as staff_role:
        account_admin.create_account(account_admin.NewAccount(
            username="ts-x", display_name="镇街", role="town_staff", town_id=clerk.town_id), clerk, NOW)
    assert "role" in staff_role.value.errors
    city = factories.user("city1", Role.city_staff)
    user2, _ = account_admin.create_account(account_admin.NewAccount(
        username="va-city", display_name="赵协理", role="village_assistant", village_id=elsewhere.village_id),
        city, NOW)
    assert user2.town_id == elsewhere.town_id
