"""Every order, visit and registration event tells the people it concerns (services/notices.py): one test per
transition asserts who got which notice, and that nobody else did."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from socialforce.platform import idnumber
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    Notification,
    Order,
    OrderState,
    OutboxMessage,
    ProviderStatus,
    Role,
    User,
    Visit,
    VolunteerTask,
    utcnow,
)
from socialforce.platform.models.orders import EvaluationSource
from socialforce.platform.services import (
    dispatch,
    hours,
    matching,
    notices,
    notification_prefs,
    notifications,
    outcomes,
    village,
    visits,
    volunteers,
)
from tests import factories

NOW = utcnow().replace(hour=2, minute=0, second=0, microsecond=0)


@pytest.fixture(autouse=True)
def _fresh_index():
    matching.invalidate()


class World:
    """Two agencies with an admin and a social worker login each, a household's counselling item registered by
    one town staff user (the referrer), another town staff user, and a city staff user."""

    def __init__(self):
        town = factories.town()
        self.referrer = factories.user("referrer", Role.town_staff, town_id=town.id)
        self.colleague = factories.user("colleague", Role.town_staff, town_id=town.id)
        self.city = factories.user("city", Role.city_staff)
        self.agencies = []
        for name in ("甲机构", "乙机构"):
            provider, worker = factories.agency(name)
            admin = factories.user(f"admin-{provider.id}", Role.agency_admin, provider_id=provider.id)
            social = factories.user(f"worker-{provider.id}", Role.social_worker, provider_id=provider.id,
                                    member_id=worker.id)
            self.agencies.append((provider, worker, admin, social))
        self.item = factories.item(factories.household(), "counselling", description="需要心理疏导")
        self.item.created_by_id = self.referrer.id
        db.session.flush()
        self.mark = 0

    def dispatch(self) -> Order:
        choice = matching.rank_item(self.item, now=NOW)[0]
        return dispatch.dispatch(self.item, choice, self.referrer, NOW)

    def agency_of(self, order: Order):
        return next(a for a in self.agencies if a[0].id == order.provider_id)

    def told(self) -> Counter:
        """(user, kind) of the notices created since the last call."""
        db.session.flush()
        rows = db.session.execute(sa.select(Notification.id, Notification.user_id, Notification.kind)
                                  .where(Notification.id > self.mark).order_by(Notification.id)).all()
        if rows:
            self.mark = rows[-1].id
        return Counter((r.user_id, r.kind) for r in rows)


@pytest.fixture
def world() -> World:
    w = World()
    db.session.commit()
    return w


def test_a_dispatched_order_tells_its_providers_users_only(world):
    order = world.dispatch()
    _, _, admin, social = world.agency_of(order)
    assert world.told() == Counter({(admin.id, "order_dispatched"): 1, (social.id, "order_dispatched"): 1})
    note = db.session.scalar(sa.select(Notification).where(Notification.user_id == admin.id))
    assert note.params == {"order_id": order.id, "item_id": world.item.id, "category": "counselling",
                           "town": "longquan"} and note.link.endswith(f"/orders/{order.id}")


def test_an_accepted_order_tells_the_referring_staff(world):
    order = world.dispatch()
    _, worker, admin, _ = world.agency_of(order)
    world.told()
    dispatch.accept(order, admin, worker.id, NOW)
    assert world.told() == Counter({(world.referrer.id, "order_accepted"): 1})


def test_a_declined_order_tells_the_referrer_who_then_learns_it_was_dispatched_again(world):
    order = world.dispatch()
    _, _, admin, _ = world.agency_of(order)
    world.told()
    second = dispatch.decline(order, admin, "本周人手不足", NOW)
    _, _, next_admin, next_social = world.agency_of(second)
    assert second.attempt == 2 and next_admin.id != admin.id
    assert world.told() == Counter({(world.referrer.id, "order_declined"): 1,
                                    (world.referrer.id, "order_redispatched"): 1,
                                    (next_admin.id, "order_dispatched"): 1, (next_social.id, "order_dispatched"): 1})
    again = db.session.scalar(sa.select(Notification).where(Notification.kind == "order_redispatched"))
    assert again.params["attempt"] == 2 and again.params["order_id"] == second.id


def test_an_expired_order_tells_the_referrer_and_the_provider(world):
    order = world.dispatch()
    _, _, admin, social = world.agency_of(order)
    world.told()
    assert dispatch.sweep_overdue(NOW + timedelta(hours=49))["expired"] == 1
    told = world.told()
    assert {key for key in told if key[1] == "order_expired"} == {
        (world.referrer.id, "order_expired"), (admin.id, "order_expired"), (social.id, "order_expired")}
    assert told[(world.referrer.id, "order_redispatched")] == 1


def _in_service(world, order: Order) -> tuple:
    _, worker, admin, social = world.agency_of(order)
    dispatch.accept(order, admin, worker.id, NOW)
    start = NOW + timedelta(days=1)
    visit = visits.plan_visit(order, visits.order_assignee(order), start, 60, admin, NOW)
    visits.check_in(visit, social, start)
    visits.check_out(visit, social, start + timedelta(hours=1))
    assert order.state == OrderState.in_service
    return visit, admin, social


def test_a_completed_order_tells_the_referring_staff(world):
    order = world.dispatch()
    _, admin, social = _in_service(world, order)
    world.told()
    outcomes.record_outcome(order, EvaluationSource.provider,
                            outcomes.OutcomeInput(resolved="yes", goal_attainment=1, assessment=4), social,
                            NOW + timedelta(days=1, hours=2))
    assert world.told() == Counter({(world.referrer.id, "order_completed"): 1})


def test_a_cancelled_order_tells_the_provider(world):
    order = world.dispatch()
    _, _, admin, social = world.agency_of(order)
    world.told()
    dispatch.cancel(order, world.city, "户主已入住养老院", NOW)
    assert world.told() == Counter({(admin.id, "order_cancelled"): 1, (social.id, "order_cancelled"): 1})


def test_without_an_active_referrer_the_towns_staff_are_told(world):
    world.referrer.active = False
    order = world.dispatch()
    _, worker, admin, _ = world.agency_of(order)
    world.told()
    dispatch.accept(order, admin, worker.id, NOW)
    assert world.told() == Counter({(world.colleague.id, "order_accepted"): 1})


def test_visits_scheduled_moved_and_cancelled_tell_the_assignee_not_the_actor(world):
    order = world.dispatch()
    _, worker, admin, social = world.agency_of(order)
    dispatch.accept(order, admin, worker.id, NOW)
    world.told()
    visit = visits.plan_visit(order, visits.order_assignee(order), NOW + timedelta(days=1), 60, admin, NOW)
    assert world.told() == Counter({(social.id, "visit_scheduled"): 1})
    visits.reschedule(visit, NOW + timedelta(days=2), None, "户主要去医院", admin, NOW)
    moved = world.told()
    assert moved == Counter({(social.id, "visit_rescheduled"): 1})
    note = db.session.scalar(sa.select(Notification).where(Notification.kind == "visit_rescheduled"))
    assert note.params["when"] == (NOW + timedelta(days=2)).isoformat(timespec="minutes")
    visits.cancel(visit, "户主住院", social, NOW)  # the worker cancels it: nobody else is an assignee
    assert world.told() == Counter()
    other = visits.plan_visit(order, visits.order_assignee(order), NOW + timedelta(days=3), 60, social, NOW)
    assert world.told() == Counter()  # planned by the worker themself
    visits.cancel(other, "户主住院", admin, NOW)
    assert world.told() == Counter({(social.id, "visit_cancelled"): 1})


# --- volunteer tasks and registrations --------------------------------------------------------------------------


def _volunteer_login(skills: str = "daily_care", town_code: str = "longquan", offer_towns=("longquan",),
                     status: ProviderStatus = ProviderStatus.approved) -> User:
    v = factories.volunteer(town_code, skills=skills)
    v.provider.status = status
    factories.offer(v.provider, tuple(skills.split()), offer_towns)
    return factories.user(f"vol-{v.id}", Role.volunteer, provider_id=v.provider_id)


def test_a_new_task_tells_the_volunteers_it_fits_and_only_them():
    fits = _volunteer_login()
    from_afar = _volunteer_login(town_code="binhu", offer_towns=("longquan", "binhu"))
    other_skill = _volunteer_login(skills="tutoring")
    other_town = _volunteer_login(town_code="binhu", offer_towns=("binhu",))
    pending = _volunteer_login(status=ProviderStatus.pending)
    gone = _volunteer_login()
    gone.active = False
    staff = factories.user("town", Role.town_staff, town_id=factories.town().id)
    item = factories.item(factories.household(), "daily_care", slots=2)
    item.created_by_id = staff.id
    db.session.commit()
    order = dispatch.dispatch(item, dispatch.Choice(provider_id=None), staff, NOW)
    told = {(n.user_id, n.kind) for n in db.session.scalars(sa.select(Notification))}
    assert told == {(fits.id, "task_published"), (from_afar.id, "task_published")}
    assert other_skill.id not in dict(told) and other_town.id not in dict(told) and pending.id not in dict(told)
    note = db.session.scalar(sa.select(Notification).where(Notification.user_id == fits.id))
    assert note.params["task_id"] is not None and note.params["order_id"] == order.id
    assert note.link.endswith("/volunteer/tasks")


def test_the_first_sign_up_accepts_the_task_and_tells_the_referrer_and_cancelling_tells_the_volunteers():
    fits = _volunteer_login()
    staff = factories.user("town", Role.town_staff, town_id=factories.town().id)
    item = factories.item(factories.household(), "daily_care", slots=2)
    item.created_by_id = staff.id
    db.session.commit()
    order = dispatch.dispatch(item, dispatch.Choice(provider_id=None), staff, NOW)
    volunteer = volunteers.volunteer_of(fits)
    task_id = db.session.scalar(sa.select(VolunteerTask.id).where(VolunteerTask.order_id == order.id))
    dispatch.sign_up(task_id, volunteer, NOW)
    assert db.session.scalar(sa.select(Notification.user_id).where(Notification.kind == "order_accepted")) == staff.id
    dispatch.cancel(order, staff, "需求已变化", NOW)
    assert db.session.scalars(sa.select(Notification.user_id).where(
        Notification.kind == "order_cancelled")).all() == [fits.id]


def test_a_volunteer_registration_tells_the_towns_staff_it_awaits_review():
    town = factories.town()
    staff = factories.user("town", Role.town_staff, town_id=town.id)
    factories.user("other-town", Role.town_staff, town_id=factories.town("binhu").id)
    number = idnumber.make("370481", datetime(1990, 5, 4).date(), 123)
    user = volunteers.register(volunteers.Registration("newvol", "pw-1234567", "新志愿者", number, "13800000009",
                                                       town.id, ("daily_care",), availability=0b111))
    notes = db.session.scalars(sa.select(Notification)).all()
    assert [(n.user_id, n.kind) for n in notes] == [(staff.id, "volunteer_registration_pending")]
    assert notes[0].params == {"provider_id": user.provider_id, "town": "longquan"}


def test_the_event_table_names_only_kinds_with_texts():
    from socialforce.platform.services.notifications import MESSAGES

    kinds = {kind for rules in notices.ORDER_NOTICES.values() for kind, *_ in rules}
    assert kinds <= set(MESSAGES) and {"visit_scheduled", "visit_rescheduled", "visit_cancelled",
                                       "volunteer_registration_pending"} <= set(MESSAGES)


# --- things awaiting town staff: one notice until read, per-kind channels --------------------------------------


def _awaiting(kind: str) -> list[tuple[int, dict, str]]:
    db.session.flush()
    return [(n.user_id, n.params, n.link) for n in db.session.scalars(
        sa.select(Notification).where(Notification.kind == kind).order_by(Notification.id))]


def _checked_out_volunteer_visit(town_code: str = "longquan") -> Visit:
    vol = factories.volunteer(town_code)
    order = Order(item_id=factories.item(factories.household(town_code)).id, provider_id=vol.provider_id,
                  state=OrderState.accepted)
    db.session.add(order)
    db.session.flush()
    visit = Visit(order_id=order.id, volunteer_id=vol.id, starts_at=NOW, ends_at=NOW + timedelta(hours=1),
                  checkin_at=NOW, checkout_at=NOW + timedelta(minutes=50))
    db.session.add(visit)
    db.session.flush()
    return visit


def test_hours_awaiting_confirmation_tell_the_households_town_staff_once_until_read():
    staff = factories.user("town", Role.town_staff, town_id=factories.town().id)
    other = factories.user("other-town", Role.town_staff, town_id=factories.town("binhu").id)
    hours.create_record(_checked_out_volunteer_visit())
    assert _awaiting("hours_pending") == [(staff.id, {"town": "longquan"}, "/staff/hours")]
    hours.create_record(_checked_out_volunteer_visit())  # unread: no second notice (no flood)
    assert len(_awaiting("hours_pending")) == 1
    notifications.mark_all_read(staff)
    hours.create_record(_checked_out_volunteer_visit())  # read: the next record tells them again
    assert [u for u, *_ in _awaiting("hours_pending")] == [staff.id, staff.id]
    hours.create_record(_checked_out_volunteer_visit("binhu"))
    assert [u for u, *_ in _awaiting("hours_pending")] == [staff.id, staff.id, other.id]


def test_a_certificate_added_by_a_volunteer_tells_their_towns_staff_once_until_read():
    staff = factories.user("town", Role.town_staff, town_id=factories.town().id)
    colleague = factories.user("colleague", Role.town_staff, town_id=factories.town().id)
    first, second = factories.volunteer(), factories.volunteer()
    code = volunteers.certification_codes()[0]
    volunteers.add_certification(first, volunteers.CertificationInput(code, "CERT-0001"), None, NOW.date())
    assert [(u, link) for u, _p, link in _awaiting("certification_pending")] == [
        (staff.id, "/staff/providers?certificates=awaiting"), (colleague.id, "/staff/providers?certificates=awaiting")]
    notifications.mark_all_read(colleague)
    volunteers.add_certification(second, volunteers.CertificationInput(code, "CERT-0002"), None, NOW.date())
    assert [u for u, *_ in _awaiting("certification_pending")] == [staff.id, colleague.id, colleague.id]


def test_a_village_need_awaiting_approval_tells_town_staff_once_until_read():
    from tests.platform.test_village import assistant, need

    staff = factories.user("town", Role.town_staff, town_id=factories.town().id)
    h = factories.household()
    va = assistant(h)
    village.submit_draft(h, need(), va)
    village.submit_draft(h, need(text="屋顶漏雨"), va)
    assert _awaiting("village_need_pending") == [(staff.id, {"town": "longquan"}, "/staff/village-needs")]


def test_awaiting_notices_follow_each_users_channel_choice_per_kind(app, monkeypatch):
    monkeypatch.setitem(app.config, "NOTIFY_CHANNELS", ["log", "email", "sms"])
    town = factories.town()
    wants_sms = factories.user("sms", Role.town_staff, town_id=town.id)
    wants_other = factories.user("other", Role.town_staff, town_id=town.id)
    notification_prefs.save(wants_sms, notification_prefs.SettingsInput(sms_kinds=("hours_pending",)))
    notification_prefs.save(wants_other, notification_prefs.SettingsInput(sms_kinds=("certification_pending",)))
    hours.create_record(_checked_out_volunteer_visit())
    db.session.flush()
    sent = db.session.execute(sa.select(Notification.user_id, OutboxMessage.channel).join(
        OutboxMessage, OutboxMessage.notification_id == Notification.id).order_by(Notification.user_id)).all()
    assert sorted(map(tuple, sent)) == sorted([(wants_sms.id, "log"), (wants_sms.id, "sms"), (wants_other.id, "log")])
