"""Calendar feeds: written with `icalendar`, read back with an independent parser (vobject, with dateutil's
recurrence expansion) and compared with the user's visits; series as RRULE with EXDATEs; what each role may see."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
import vobject

from socialforce.platform.extensions import db
from socialforce.platform.localtime import to_utc
from socialforce.platform.models import Role, TaskSignup, User, Visit, VisitStatus, VolunteerTask
from socialforce.platform.services import ServiceError, calendars, visits
from socialforce.platform.services.visits import Assignee
from tests import factories
from tests.platform.test_visits import NOW, accepted_order, local, member

URL = "https://example.test/visit/{}"


def visit_url(visit: Visit) -> str:
    return URL.format(visit.id)


def parse(feed: bytes):
    """The feed as vobject reads it."""
    return vobject.readOne(feed.decode("utf-8"))


def expanded_starts(cal, until: datetime) -> list[datetime]:
    """Every event start up to `until` (aware), recurrences expanded by vobject/dateutil, as naive UTC."""
    found = []
    for event in cal.vevent_list:
        rules = event.getrruleset(addRDate=True)
        if rules is None:
            found.append(event.dtstart.value)
        else:
            found.extend(rules.between(event.dtstart.value - timedelta(seconds=1), until, inc=True))
    return sorted(s.astimezone(UTC).replace(tzinfo=None) for s in found)


def cadre_user(order) -> User:
    return factories.user(f"cadre{order.assignee_id}", Role.cadre, provider_id=order.provider_id,
                          member_id=order.assignee_id)


def live_starts(member_id: int) -> list[datetime]:
    return sorted(db.session.scalars(sa.select(Visit.starts_at).where(
        Visit.assignee_id == member_id, Visit.status != VisitStatus.cancelled)))


def test_a_cadres_feed_parses_with_a_second_parser_and_matches_their_visits():
    order = accepted_order()
    who = Assignee(member_id=order.assignee_id)
    first = visits.plan_visit(order, who, local(2024, 3, 5, 9), 60, None, NOW, repeat="weekly", count=6)
    series_visits = list(db.session.scalars(sa.select(Visit).where(Visit.series_id == first.series_id)
                                            .order_by(Visit.starts_at)))
    visits.cancel(series_visits[2], "家中有事", None, NOW)  # an exception inside the series: EXDATE
    single = visits.plan_visit(order, who, local(2024, 3, 8, 14, 30), 90, None, NOW)
    user = cadre_user(order)

    feed = calendars.build_feed(user, NOW, visit_url)
    cal = parse(feed)
    assert cal.vtimezone.tzid.value == "Asia/Shanghai"
    series_events = [e for e in cal.vevent_list if e.contents.get("rrule")]
    assert len(series_events) == 1 and "FREQ=WEEKLY" in series_events[0].rrule.value
    assert series_events[0].dtstart.value.tzinfo is not None
    assert b"DTSTART;TZID=Asia/Shanghai:20240305T090000" in feed
    # the series is expanded only 4 weeks ahead in the database; compare within that horizon, then the rule's rest
    horizon = datetime(2024, 4, 1, tzinfo=UTC)
    got = expanded_starts(cal, horizon)
    assert got == [s for s in live_starts(order.assignee_id) if s <= horizon.replace(tzinfo=None)]
    assert to_utc(datetime(2024, 3, 19, 9)) not in got  # the cancelled occurrence
    assert to_utc(datetime(2024, 3, 8, 14, 30)) in got
    assert len(expanded_starts(cal, datetime(2025, 1, 1, tzinfo=UTC))) == 6  # COUNT=6, one EXDATE, one single
    one = next(e for e in cal.vevent_list if e.uid.value.startswith(f"visit-{single.id}@"))
    assert one.dtend.value - one.dtstart.value == timedelta(minutes=90)
    assert one.url.value == URL.format(single.id)


def test_a_rescheduled_series_visit_is_written_visit_by_visit():
    order = accepted_order()
    who = Assignee(member_id=order.assignee_id)
    first = visits.plan_visit(order, who, local(2024, 3, 5, 9), 60, None, NOW, repeat="weekly", count=3)
    visits.reschedule(first, local(2024, 3, 6, 10), None, "改期", None, NOW)
    user = cadre_user(order)
    cal = parse(calendars.build_feed(user, NOW, visit_url))
    assert not any(e.contents.get("rrule") for e in cal.vevent_list)
    assert expanded_starts(cal, datetime(2025, 1, 1, tzinfo=UTC)) == live_starts(order.assignee_id)


def volunteer_with_visit():
    vol = factories.volunteer()
    user = factories.user(f"vol{vol.id}", Role.volunteer, provider_id=vol.provider_id)
    order = accepted_order()
    visit = Visit(order_id=order.id, volunteer_id=vol.id, starts_at=local(2024, 3, 6, 9),
                  ends_at=local(2024, 3, 6, 11))
    db.session.add(visit)
    db.session.flush()
    return vol, user, order, visit


def test_a_volunteer_sees_the_village_but_no_address_name_or_phone():
    vol, user, order, visit = volunteer_with_visit()
    household = order.item.household
    feed = calendars.build_feed(user, NOW, visit_url).decode()
    event = parse(feed.encode()).vevent
    assert household.village.name in event.location.value and household.village.name in event.summary.value
    for secret in (household.address, household.head_name, *(m.name for m in household.members),
                   *(m.id_masked for m in household.members)):
        assert secret not in feed
    assert expanded_starts(parse(feed.encode()), datetime(2025, 1, 1, tzinfo=UTC)) == [visit.starts_at]
    # the provider's cadre sees the address (as on the visit page), still no names
    cadre = cadre_user(order)
    visits.plan_visit(order, Assignee(member_id=order.assignee_id), local(2024, 3, 7, 9), 60, None, NOW)
    provider_feed = calendars.build_feed(cadre, NOW, visit_url).decode()
    assert household.address in provider_feed and household.head_name not in provider_feed


def test_a_signed_up_task_without_a_visit_is_in_the_volunteers_feed():
    vol, user, order, _visit = volunteer_with_visit()
    other = accepted_order()
    task = VolunteerTask(order_id=other.id, slots=2, taken=1, starts_at=local(2024, 3, 9, 8))
    db.session.add(task)
    db.session.flush()
    db.session.add(TaskSignup(task_id=task.id, volunteer_id=vol.id))
    db.session.flush()
    cal = parse(calendars.build_feed(user, NOW, visit_url))
    uids = sorted(e.uid.value.split("@")[0] for e in cal.vevent_list)
    assert uids == sorted([f"task-{task.id}", f"visit-{_visit.id}"])
    assert calendars.signed_up_task(user, other.id).id == task.id
    assert calendars.signed_up_task(user, order.id) is None  # no task there


def test_only_the_current_token_opens_the_feed_and_staff_have_none():
    order = accepted_order()
    user = cadre_user(order)
    first = calendars.rotate_feed(user, NOW)
    assert calendars.user_for_token(first).id == user.id
    second = calendars.rotate_feed(user, NOW + timedelta(minutes=1))
    assert calendars.user_for_token(first) is None and calendars.user_for_token(second).id == user.id
    assert second not in str(calendars.feed_of(user).token_hash)
    user.active = False
    db.session.flush()
    assert calendars.user_for_token(second) is None
    staff = factories.user("ts-cal", Role.town_staff, town_id=factories.town().id)
    with pytest.raises(ServiceError):
        calendars.rotate_feed(staff, NOW)


def test_a_member_of_another_provider_sees_none_of_these_visits():
    order = accepted_order()
    visits.plan_visit(order, Assignee(member_id=order.assignee_id), local(2024, 3, 5, 9), 60, None, NOW)
    other_order = accepted_order()
    other = cadre_user(other_order)
    assert parse(calendars.build_feed(other, NOW, visit_url)).contents.get("vevent") is None
    admin = factories.user("unitadmin", Role.unit_admin, provider_id=order.provider_id)
    extra = member(order.provider_id, name="李干部")
    assert extra.provider_id == order.provider_id
    assert len(parse(calendars.build_feed(admin, NOW, visit_url)).vevent_list) == 1
