"""Private iCalendar feeds (RFC 5545, written with `icalendar`) and single-visit .ics files.

Who has a feed: volunteers (their visits and the tasks they signed up for), social workers and cadres (the visits
assigned to them) and agency and pairing-unit admins (their organisation's visits); the same scope as the visit
pages (`scoping.visit_filter`). Staff have none.

The feed URL carries a random token; only its SHA-256 is stored (`CalendarFeed.token_hash`). Rotating replaces the
hash in one UPDATE, so the old URL answers 404 at once.

What an event shows: the service category, the village (and town), and for provider staff the household's address;
never a resident's name, ID or phone, and never the address for volunteers. A visit series (`VisitSeries`) whose
live visits all fall on its rule, with the series' duration, is one VEVENT with the RRULE (UNTIL in UTC, as RFC 5545
asks when DTSTART has a zone) and EXDATEs for occurrences without a live visit; any other series, and a series of a
finished order, is written visit by visit. Times carry TZID=Asia/Shanghai with its VTIMEZONE.
"""
from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from icalendar import Calendar, Event, vRecur
from sqlalchemy.orm import selectinload

from socialforce.platform.extensions import db
from socialforce.platform.localtime import LOCAL_TZ, ZONE_NAME
from socialforce.platform.models import (
    CalendarFeed,
    Household,
    Order,
    OrderState,
    Role,
    ServiceItem,
    TaskSignup,
    User,
    Village,
    Visit,
    VisitSeries,
    VisitStatus,
    Volunteer,
    VolunteerTask,
)
from socialforce.platform.models.orders import LIVE_STATES
from socialforce.platform.scoping import visit_filter
from socialforce.platform.services import ServiceError, audit
from socialforce.platform.services.visits import occurrences

FEED_ROLES = frozenset({Role.volunteer, Role.social_worker, Role.cadre, Role.agency_admin, Role.unit_admin})
PAST_DAYS = 90  # the feed holds visits from this many days back, and every later one
MAX_EVENTS = 2000
PRODID = "-//Socialforce//Tengzhou civil affairs//ZH"
UID_DOMAIN = "socialforce.tengzhou"
SHOWN = (VisitStatus.planned, VisitStatus.checked_in, VisitStatus.completed, VisitStatus.missed)

VisitUrl = Callable[[Visit], str | None]
_item = selectinload(Visit.order).selectinload(Order.item)
EVENT_LOADS = (_item.selectinload(ServiceItem.household).selectinload(Household.village).selectinload(Village.town),
               _item.selectinload(ServiceItem.category))  # what an event shows, in 6 queries for any number of visits


def has_feed_role(user: User) -> bool:
    """Whether the user's role has visits or sign-ups to put in a calendar (staff do not)."""
    return user.role in FEED_ROLES


def token_hash(token: str) -> str:
    """The stored form of a feed token (the token itself is random, so a plain SHA-256 suffices)."""
    return hashlib.sha256(token.encode()).hexdigest()


def feed_of(user: User) -> CalendarFeed | None:
    """The user's feed row, if they created one."""
    return db.session.scalar(sa.select(CalendarFeed).where(CalendarFeed.user_id == user.id))


def rotate_feed(user: User, now: datetime) -> str:
    """Create or replace the user's secret feed token (the old URL stops working at once); returns the new token."""
    if not has_feed_role(user):
        raise ServiceError(_("Your role has no calendar feed."), status=404)
    token = secrets.token_urlsafe(32)
    digest = token_hash(token)
    replaced = db.session.execute(
        sa.update(CalendarFeed).where(CalendarFeed.user_id == user.id)
        .values(token_hash=digest, created_at=now, last_used_at=None).execution_options(synchronize_session=False))
    if replaced.rowcount == 0:
        db.session.add(CalendarFeed(user_id=user.id, token_hash=digest, created_at=now))
        db.session.flush()
    audit.record("calendar_feed_rotated" if replaced.rowcount else "calendar_feed_created", user, "user", user.id)
    return token


def user_for_token(token: str) -> User | None:
    """The active user whose current feed token this is, else None (unknown, rotated or deactivated)."""
    if not token or len(token) > 100:
        return None
    user = db.session.scalar(sa.select(User).join(CalendarFeed, CalendarFeed.user_id == User.id)
                             .where(CalendarFeed.token_hash == token_hash(token)))
    if user is None or not user.active or not has_feed_role(user):
        return None
    return user


def touch_feed(user: User, now: datetime) -> None:
    """Note when the feed was last fetched (shown on the settings page); at most one write an hour per feed, so
    calendar apps polling often do not keep the database busy."""
    stale = sa.or_(CalendarFeed.last_used_at.is_(None), CalendarFeed.last_used_at < now - timedelta(hours=1))
    db.session.execute(sa.update(CalendarFeed).where(CalendarFeed.user_id == user.id, stale)
                       .values(last_used_at=now).execution_options(synchronize_session=False))


# ---- what the user may see --------------------------------------------------------------------------------------

def visible_visits(user: User, since: datetime) -> list[Visit]:
    """The user's visits (their scope, as on the visit pages) starting after `since`, not cancelled, by start."""
    query = (sa.select(Visit).join(Order, Order.id == Visit.order_id).join(ServiceItem, ServiceItem.id == Order.item_id)
             .join(Household, Household.id == ServiceItem.household_id)
             .where(visit_filter(user), Visit.starts_at >= since, Visit.status.in_(SHOWN))
             .options(*EVENT_LOADS).order_by(Visit.starts_at, Visit.id).limit(MAX_EVENTS))
    return list(db.session.scalars(query))


def signed_up_tasks(user: User, since: datetime) -> list[VolunteerTask]:
    """The volunteer's tasks with a start time after `since` for which they have no visit planned yet."""
    if user.role != Role.volunteer:
        return []
    volunteer_id = sa.select(Volunteer.id).where(Volunteer.provider_id == user.provider_id).scalar_subquery()
    has_visit = sa.exists().where(Visit.order_id == VolunteerTask.order_id, Visit.volunteer_id == volunteer_id)
    return list(db.session.scalars(
        sa.select(VolunteerTask).join(TaskSignup, TaskSignup.task_id == VolunteerTask.id)
        .where(TaskSignup.volunteer_id == volunteer_id, VolunteerTask.starts_at.is_not(None),
               VolunteerTask.starts_at >= since, ~has_visit)
        .order_by(VolunteerTask.starts_at).limit(MAX_EVENTS)))


def signed_up_task(user: User, order_id: int) -> VolunteerTask | None:
    """One task the volunteer signed up for (by its order), if it has a start time."""
    if user.role != Role.volunteer:
        return None
    volunteer_id = sa.select(Volunteer.id).where(Volunteer.provider_id == user.provider_id).scalar_subquery()
    return db.session.scalar(
        sa.select(VolunteerTask).join(TaskSignup, TaskSignup.task_id == VolunteerTask.id)
        .where(VolunteerTask.order_id == order_id, TaskSignup.volunteer_id == volunteer_id,
               VolunteerTask.starts_at.is_not(None)))


# ---- writing iCalendar ------------------------------------------------------------------------------------------

def _aware(utc_naive: datetime) -> datetime:
    """A stored naive-UTC time as an Asia/Shanghai-aware datetime (written with TZID)."""
    return utc_naive.replace(tzinfo=UTC).astimezone(LOCAL_TZ)


def _calendar(name: str) -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", ZONE_NAME)
    return cal


def _place(item: ServiceItem, user: User) -> str:
    household = item.household
    place = f"{household.village.town.name_zh} {household.village.name}"
    if user.role != Role.volunteer:  # provider staff see the address on the visit page too
        place += f" {household.address}"
    return place


def _event(uid: str, start: datetime, end: datetime, item: ServiceItem, summary: str, user: User, now: datetime,
           order_id: int, url: str | None) -> Event:
    event = Event()
    event.add("uid", f"{uid}@{UID_DOMAIN}")
    event.add("dtstamp", now.replace(tzinfo=UTC))
    event.add("dtstart", _aware(start))
    event.add("dtend", _aware(end))
    event.add("summary", summary % {"service": item.category.name_zh, "village": item.household.village.name})
    event.add("location", _place(item, user))
    lines = [_("Order #%(id)s", id=order_id)]
    if url:
        lines.append(url)
        event.add("url", url)
    event.add("description", "\n".join(lines))
    event.add("status", "CONFIRMED")
    return event


def _visit_event(visit: Visit, user: User, now: datetime, visit_url: VisitUrl) -> Event:
    return _event(f"visit-{visit.id}", visit.starts_at, visit.ends_at, visit.order.item,
                  _("Visit: %(service)s, %(village)s"), user, now, visit.order_id, visit_url(visit))


def _task_event(task: VolunteerTask, user: User, now: datetime) -> Event:
    end = task.starts_at + timedelta(hours=task.order.expected_hours or 2.0)
    return _event(f"task-{task.id}", task.starts_at, end, task.order.item,
                  _("Volunteer task: %(service)s, %(village)s"), user, now, task.order_id, None)


def _utc_until(rule: str) -> vRecur:
    """The stored RRULE with UNTIL (kept in local wall time by the planner) converted to UTC, as RFC 5545 asks."""
    recur = vRecur.from_ical(rule)
    if "UNTIL" in recur:
        until = recur["UNTIL"][0]
        if isinstance(until, datetime) and until.tzinfo is None:
            recur["UNTIL"] = [until.replace(tzinfo=LOCAL_TZ).astimezone(UTC)]
    return recur


def _series_event(series: VisitSeries, shown: list[Visit], user: User, now: datetime,
                  visit_url: VisitUrl) -> Event | None:
    """One VEVENT with the series' RRULE, or None when its visits do not follow the rule (written one by one)."""
    order = shown[0].order
    if OrderState(order.state) not in LIVE_STATES or series.expanded_until is None:
        return None
    duration = timedelta(minutes=series.duration_minutes)
    horizon = max(series.expanded_until, shown[-1].starts_at)
    starts = occurrences(series.rrule, series.starts_at, None, horizon)
    on_rule = set(starts)
    if any(v.starts_at not in on_rule or v.ends_at - v.starts_at != duration for v in shown):
        return None
    live = {v.starts_at for v in db.session.scalars(
        sa.select(Visit).where(Visit.series_id == series.id, Visit.status.in_(SHOWN)))}
    event = _event(f"series-{series.id}", series.starts_at, series.starts_at + duration, order.item,
                   _("Visit: %(service)s, %(village)s"), user, now, order.id, visit_url(shown[0]))
    event.add("rrule", _utc_until(series.rrule))
    for start in starts:
        if start not in live:
            event.add("exdate", _aware(start))
    return event


def _add_visits(cal: Calendar, visits: Iterable[Visit], user: User, now: datetime, visit_url: VisitUrl) -> int:
    by_series: dict[int, list[Visit]] = {}
    singles: list[Visit] = []
    for visit in visits:
        (by_series.setdefault(visit.series_id, []) if visit.series_id else singles).append(visit)
    count = 0
    for series_id, shown in by_series.items():
        series = db.session.get(VisitSeries, series_id)
        event = _series_event(series, shown, user, now, visit_url)
        if event is None:
            singles.extend(shown)
        else:
            cal.add_component(event)
            count += 1
    for visit in sorted(singles, key=lambda v: (v.starts_at, v.id)):
        cal.add_component(_visit_event(visit, user, now, visit_url))
        count += 1
    return count


def build_feed(user: User, now: datetime, visit_url: VisitUrl) -> bytes:
    """The user's whole feed: visits from PAST_DAYS ago on (series as RRULEs where regular) and signed-up tasks."""
    since = now - timedelta(days=PAST_DAYS)
    cal = _calendar(_("Socialforce: my visits"))
    _add_visits(cal, visible_visits(user, since), user, now, visit_url)
    for task in signed_up_tasks(user, since):
        cal.add_component(_task_event(task, user, now))
    cal.add_missing_timezones()
    return cal.to_ical()


def visit_file(visit: Visit, user: User, now: datetime, visit_url: VisitUrl) -> bytes:
    """One visit as an .ics file (the caller has checked the user may see it)."""
    cal = _calendar(_("Socialforce: visit"))
    cal.add_component(_visit_event(visit, user, now, visit_url))
    cal.add_missing_timezones()
    return cal.to_ical()


def task_file(task: VolunteerTask, user: User, now: datetime) -> bytes:
    """One volunteer task as an .ics file (the caller has checked the volunteer signed up for it)."""
    cal = _calendar(_("Socialforce: volunteer task"))
    cal.add_component(_task_event(task, user, now))
    cal.add_missing_timezones()
    return cal.to_ical()
