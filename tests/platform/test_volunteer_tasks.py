"""The volunteer's ranked task list: candidates are selected in SQL (towns or radius, skills, free time, free
places) and ranked by the engine exactly as the full matching index ranks them."""
from __future__ import annotations

from datetime import date, datetime

import pytest
import sqlalchemy as sa

from socialforce.matching import MatchIndex
from socialforce.platform import weekmask
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    Order,
    OrderState,
    ServiceItem,
    ServiceOffer,
    TaskSignup,
    VolunteerTask,
    utcnow,
)
from socialforce.platform.services import dispatch, matching
from tests import factories

NOW = utcnow().replace(hour=2, minute=0, second=0, microsecond=0)
MORNINGS = weekmask.from_cells([(d, 0) for d in range(5)])
EVENINGS = weekmask.from_cells([(d, 2) for d in range(7)])


def task(town_code: str = "longquan", category: str = "daily_care", slots: int = 1, windows: int = weekmask.ALL,
         description: str = "老人需要生活照料和陪伴", minor: bool = False) -> ServiceItem:
    """A published volunteer task (an order with `slots` places) for a new household of the town."""
    h = factories.household(town_code)
    it = factories.item(h, category, slots=slots, windows=windows, description=description)
    if minor:
        h.members[0].birth_date = date(NOW.year - 10, 4, 1)  # (the factory's ID numbers do not always honour `born`)
        it.member_id = h.members[0].id
    dispatch.dispatch(it, dispatch.Choice(provider_id=None), None, NOW)
    return it


def task_of(item: ServiceItem) -> VolunteerTask:
    return db.session.scalar(sa.select(VolunteerTask).join(Order).where(Order.item_id == item.id))


def listed(volunteer, **kwargs) -> set[int]:
    db.session.expire_all()
    return {c.item_id for c in matching.tasks_for_volunteer(volunteer, now=NOW, **kwargs)}


@pytest.fixture(autouse=True)
def _fresh_models():
    """Each test starts without the process's warm index and offer text model (built from earlier tests' rows)."""
    matching.invalidate()


@pytest.fixture
def vol():
    """An approved volunteer in 龙泉街道 (travel radius 5 km) who helps with daily care on weekday mornings."""
    v = factories.volunteer("longquan", skills="daily_care", availability=MORNINGS)
    factories.offer(v.provider, ("daily_care",), ("longquan",), slots=2, windows=MORNINGS,
                    description="志愿服务：生活照料 利用业余时间上门照料老人")
    return v


def test_only_tasks_in_my_towns_or_radius_with_my_skills_free_time_and_a_free_place_are_listed(vol):
    fits = task()
    nearby = task("jinghe")  # another town, about 2.3 km away: inside the 5 km travel radius
    far = task("mushi")  # about 17 km away
    other_skill = task(category="tutoring")
    full = task(slots=1)
    evenings_only = task(windows=EVENINGS)
    for_a_child = task(minor=True)
    db.session.flush()
    task_of(full).taken = 1
    db.session.commit()
    assert listed(vol) == {fits.id, nearby.id}
    on = NOW.date()
    offer = matching.load_offers(on, [vol.provider_id])[0]
    selected = set(matching.candidate_task_items(vol, offer, on, matching.rules()))
    assert selected == {fits.id, nearby.id}  # the SQL itself never returns the others
    assert not selected & {far.id, other_skill.id, full.id, evenings_only.id, for_a_child.id}


def test_a_task_whose_last_place_is_taken_disappears_and_my_own_signups_are_not_listed(vol):
    mine = task(slots=3)
    other = task(slots=1)
    someone = factories.volunteer("longquan")
    db.session.commit()
    assert listed(vol) == {mine.id, other.id}
    dispatch.sign_up(task_of(mine).id, vol, NOW)
    dispatch.sign_up(task_of(other).id, someone, NOW)
    db.session.commit()
    assert listed(vol) == set()


def test_a_background_check_opens_tasks_for_children(vol):
    child = task(minor=True)
    adult = task()
    db.session.commit()
    assert listed(vol) == {adult.id}
    factories.qualify(vol.provider, "background_check")
    db.session.commit()
    assert listed(vol) == {adult.id, child.id}


def test_the_limit_keeps_the_nearest_tasks(vol):
    near = task()
    nearby = task("jinghe")
    db.session.commit()
    assert listed(vol, limit=1) == {near.id}
    assert listed(vol, limit=2) == {near.id, nearby.id}


def test_pending_volunteers_and_closed_orders_get_nothing(vol):
    it = task()
    db.session.commit()
    assert listed(vol) == {it.id}
    order = db.session.scalar(sa.select(Order).where(Order.item_id == it.id))
    order.state = OrderState.cancelled
    db.session.commit()
    assert listed(vol) == set()


def reference_ranking(volunteer, now: datetime, k: int = 20):
    """The ranking as it was computed before candidate selection: every live task, an index of every offer."""
    on = now.date()
    offers = matching.load_offers(on, [volunteer.provider_id])
    ids = db.session.scalars(
        sa.select(ServiceItem.id).join(Order, Order.item_id == ServiceItem.id)
        .join(VolunteerTask, VolunteerTask.order_id == Order.id)
        .where(Order.state.in_((OrderState.dispatched, OrderState.accepted)), VolunteerTask.taken < VolunteerTask.slots,
               ~VolunteerTask.id.in_(sa.select(TaskSignup.task_id).where(TaskSignup.volunteer_id == volunteer.id)))
    ).all()
    items = matching.load_items(list(ids), on)
    index = MatchIndex.build(matching.load_offers(on), matching.load_context(on), matching.rules())
    ranked = {}
    for offer in offers:
        for c in index.tasks_for_volunteer(offer, items, k=k):
            if c.item_id not in ranked or c.score > ranked[c.item_id].score:
                ranked[c.item_id] = c
    return sorted(ranked.values(), key=lambda c: (-c.score, c.item_id))[:k]


def test_the_ranking_and_its_reasons_are_those_of_the_full_index():
    """Text similarity keeps the statistics of every matchable offer (an agency whose only place is taken
    does not count, as in the full index); scores, order and reasons are identical."""
    texts = ["独居老人需要生活照料、买菜做饭", "需要陪同就医和康复训练", "孩子需要学业辅导和陪伴", "老人需要精神慰藉聊天"]
    for n, text in enumerate(texts * 3):
        task(("longquan", "jinghe", "shannan")[n % 3], ("daily_care", "medical_escort", "tutoring",
                                                        "emotional_comfort")[n % 4], slots=1 + n % 2,
             windows=weekmask.ALL if n % 2 else MORNINGS | EVENINGS, description=text)
    volunteers = []
    for n, (town, skills) in enumerate((("longquan", ("daily_care", "emotional_comfort")),
                                        ("jinghe", ("medical_escort", "daily_care")),
                                        ("shannan", ("tutoring",)))):
        v = factories.volunteer(town, skills=" ".join(skills))
        factories.offer(v.provider, skills, (town,), slots=2, windows=MORNINGS if n else weekmask.ALL,
                        description=f"志愿服务：{'、'.join(skills)} 陪伴老人聊天做饭")
        volunteers.append(v)
    factories.qualify(volunteers[2].provider, "background_check")
    factories.agency("甲社工机构", categories=("counselling",))
    busy, worker = factories.agency("乙社工机构", categories=("daily_care",), slots=1)
    busy_offer = db.session.scalar(sa.select(ServiceOffer).where(ServiceOffer.provider_id == busy.id))
    busy_offer.description = "专业独居老人照料康复训练陪同就医"
    held = factories.item(factories.household(), "counselling")
    order = dispatch.dispatch(held, dispatch.Choice(provider_id=busy.id), None, NOW)
    order.state = OrderState.accepted
    db.session.commit()
    compared = 0
    for v in volunteers:
        db.session.expire_all()
        fast = matching.tasks_for_volunteer(v, now=NOW)
        slow = reference_ranking(v, NOW)
        assert [c.item_id for c in fast] == [c.item_id for c in slow]
        for a, b in zip(fast, slow, strict=True):
            assert a.offer_id == b.offer_id and a.score == pytest.approx(b.score, abs=1e-12)
            assert [(r.feature, round(r.contribution, 12), round(r.value, 12)) for r in a.reasons] == \
                   [(r.feature, round(r.contribution, 12), round(r.value, 12)) for r in b.reasons]
        compared += len(fast)
    assert compared >= 6
    text_weights = {r.value for c in matching.tasks_for_volunteer(volunteers[0], now=NOW) for r in c.reasons
                    if r.feature == "text"}
    assert any(0 < v < 1 for v in text_weights)
