"""Visits (走访/上门服务): planning inside time windows, recurrence, no double-booking, check-in/out, reminders.

Planning. An accepted order's visits are planned for its assignee: the order's social worker or cadre, or a
volunteer signed up for the task. The planner proposes the earliest free slots inside the household's preferred
windows (the item's WeekMask) and the assignee's own windows (a volunteer's availability; for social workers and
cadres the office hours published in their provider's active offers). Windows are local (Asia/Shanghai) time; every
timestamp is stored as naive UTC. Planning the first visit moves the order accepted -> scheduled.

Recurrence. A repeating plan is stored as an iCal RRULE (VisitSeries.rrule) expanded in local time by dateutil:
weekly, fortnightly (INTERVAL=2) and monthly. A monthly series started on the 29th-31st keeps that day and falls
back to the month's last day in shorter months (BYMONTHDAY=28..d;BYSETPOS=-1), so nobody goes a month unvisited.
`generate_recurring_visits` expands every live series EXPAND_WEEKS ahead; the `expanded_until` watermark makes it
idempotent.

No double-booking. A visit occupies [starts_at, ends_at) of its assignee; it may not intersect another planned,
checked-in or completed visit of the same assignee. The check runs in the service under a lock on the assignee's
row: SELECT ... FOR UPDATE on PostgreSQL; on SQLite (which ignores FOR UPDATE) an UPDATE touching the row takes the
database write lock before the overlap check. Callers run the operation in `run_in_transaction`, which retries
when SQLite reports "database is locked".

Jobs (scheduler, each `fn(now) -> dict`, idempotent): generate_recurring_visits, generate_quota_visits,
send_reminders (24 h ahead, once per visit via `reminded_at`), mark_missed (not checked in 2 h after the start).
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from dateutil import rrule as du_rrule
from flask_babel import gettext as _

from socialforce.platform import weekmask
from socialforce.platform.extensions import db
from socialforce.platform.i18n import SHANGHAI
from socialforce.platform.models import (
    Frequency,
    Household,
    ItemStatus,
    MaterialAssistance,
    MemberRole,
    Order,
    OrderState,
    Outcome,
    Pairing,
    PairingUnit,
    Provider,
    ProviderMember,
    ProviderStatus,
    Role,
    ServiceCategory,
    ServiceItem,
    ServiceOffer,
    TaskSignup,
    User,
    Visit,
    VisitSeries,
    VisitStatus,
    Volunteer,
    VolunteerTask,
)
from socialforce.platform.models.offers import OfferStatus
from socialforce.platform.scoping import household_filter
from socialforce.platform.services import ServiceError, audit, orders

BUSY = (VisitStatus.planned, VisitStatus.checked_in, VisitStatus.completed)
PLANNABLE_ORDER_STATES = (OrderState.accepted, OrderState.scheduled, OrderState.in_service)
REPEATS = ("weekly", "fortnightly", "monthly")
MIN_DURATION, MAX_DURATION = 15, 480
SLOT_STEP = timedelta(minutes=30)
PLANNING_LEAD = timedelta(hours=1)  # proposals start at least this long from now
CHECKIN_EARLY = timedelta(hours=1)  # check-in opens this long before the start
MISSED_AFTER = timedelta(hours=2)
REMIND_AHEAD = timedelta(hours=24)
EXPAND_WEEKS = 4
MAX_SERIES_COUNT = 104
# Social workers and cadres whose provider publishes no active offer: weekday mornings and afternoons.
DEFAULT_OFFICE_HOURS = weekmask.from_cells([(d, p) for d in range(5) for p in (0, 1)])
QUOTA_CATEGORY = "emotional_comfort"
QUOTA_ITEM_TEXT = "结对帮扶每月走访"  # stored data: the standing pairing order's service item
STANDING_REASON = "standing pairing order"
QUOTA_VISIT_MINUTES = 60


# ---- time helpers -------------------------------------------------------------------------------------------

def to_local(value: datetime) -> datetime:
    """Naive UTC -> naive Asia/Shanghai."""
    return value.replace(tzinfo=UTC).astimezone(SHANGHAI).replace(tzinfo=None)


def to_utc(value: datetime) -> datetime:
    """Naive Asia/Shanghai -> naive UTC."""
    return value.replace(tzinfo=SHANGHAI).astimezone(UTC).replace(tzinfo=None)


def local_month_bounds(now: datetime) -> tuple[datetime, datetime]:
    """The current local calendar month as a naive-UTC [start, end)."""
    local = to_local(now)
    first = date(local.year, local.month, 1)
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return to_utc(datetime.combine(first, time())), to_utc(datetime.combine(following, time()))


def week_start(day: date) -> date:
    """The Monday of the week containing `day`."""
    return day - timedelta(days=day.weekday())


# ---- assignees ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Assignee:
    """Who does a visit: a provider member (social worker, cadre) or a volunteer; exactly one is set."""

    member_id: int | None = None
    volunteer_id: int | None = None

    def __post_init__(self):
        if (self.member_id is None) == (self.volunteer_id is None):
            raise ValueError("an assignee is either a provider member or a volunteer")

    @classmethod
    def of(cls, visit: Visit) -> Assignee:
        """The assignee of a visit."""
        return cls(member_id=visit.assignee_id, volunteer_id=visit.volunteer_id)

    def visit_filter(self) -> sa.ColumnElement[bool]:
        """The WHERE clause selecting this assignee's visits."""
        if self.member_id is not None:
            return Visit.assignee_id == self.member_id
        return Visit.volunteer_id == self.volunteer_id

    def columns(self) -> dict:
        """The visit columns naming this assignee."""
        return {"assignee_id": self.member_id, "volunteer_id": self.volunteer_id}

    def user_ids(self) -> list[int]:
        """The active logins of this assignee (for notifications)."""
        if self.member_id is not None:
            where = User.member_id == self.member_id
        else:
            where = User.provider_id == sa.select(Volunteer.provider_id).where(
                Volunteer.id == self.volunteer_id).scalar_subquery()
        return list(db.session.scalars(sa.select(User.id).where(where, User.active).order_by(User.id)))

    def name(self) -> str:
        """The assignee's display name."""
        if self.member_id is not None:
            return db.session.get(ProviderMember, self.member_id).name
        return db.session.get(Volunteer, self.volunteer_id).real_name


def order_assignee(order: Order, volunteer: Volunteer | None = None) -> Assignee:
    """The assignee for a new visit of `order`: its member, or (a volunteer task) a signed-up volunteer."""
    if order.provider_id is not None:
        if order.assignee_id is None:
            raise ServiceError(_("This order has no social worker or cadre assigned yet."))
        return Assignee(member_id=order.assignee_id)
    if volunteer is None or not db.session.scalar(
        sa.select(TaskSignup.id).join(VolunteerTask, VolunteerTask.id == TaskSignup.task_id)
        .where(VolunteerTask.order_id == order.id, TaskSignup.volunteer_id == volunteer.id)
    ):
        raise ServiceError(_("Only a volunteer signed up for this task can be scheduled for it."), status=400)
    return Assignee(volunteer_id=volunteer.id)


def assignee_windows(assignee: Assignee) -> int:
    """The assignee's weekly windows: a volunteer's availability, a member's provider's office hours."""
    if assignee.volunteer_id is not None:
        return db.session.get(Volunteer, assignee.volunteer_id).availability
    member = db.session.get(ProviderMember, assignee.member_id)
    masks = db.session.scalars(sa.select(ServiceOffer.windows).where(
        ServiceOffer.provider_id == member.provider_id, ServiceOffer.status == OfferStatus.active))
    union = 0
    for mask in masks:
        union |= mask
    return union or DEFAULT_OFFICE_HOURS


def _lock(assignee: Assignee) -> None:
    """Serialise bookings of one assignee until the transaction ends (see the module docstring)."""
    model, key = ((ProviderMember, assignee.member_id) if assignee.member_id is not None
                  else (Volunteer, assignee.volunteer_id))
    if db.session.get_bind().dialect.name == "postgresql":
        found = db.session.execute(sa.select(model.id).where(model.id == key).with_for_update()).first()
    else:
        found = db.session.execute(
            sa.update(model).where(model.id == key).values(id=model.id)
            .execution_options(synchronize_session=False)).rowcount
    if not found:
        raise ServiceError(_("This person no longer exists."), status=404)


def conflicts(assignee: Assignee, starts_at: datetime, ends_at: datetime, exclude_id: int | None = None) -> list[Visit]:
    """The assignee's busy visits intersecting [starts_at, ends_at)."""
    query = sa.select(Visit).where(assignee.visit_filter(), Visit.status.in_(BUSY),
                                   Visit.starts_at < ends_at, Visit.ends_at > starts_at)
    if exclude_id is not None:
        query = query.where(Visit.id != exclude_id)
    return list(db.session.scalars(query.order_by(Visit.starts_at)))


def _busy(assignee: Assignee, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    return [(v.starts_at, v.ends_at) for v in conflicts(assignee, start, end)]


# ---- proposals ----------------------------------------------------------------------------------------------

def _check_duration(duration_minutes: int) -> timedelta:
    if not MIN_DURATION <= duration_minutes <= MAX_DURATION:
        raise ServiceError(_("A visit lasts between %(low)s and %(high)s minutes.", low=MIN_DURATION,
                             high=MAX_DURATION), status=400, field="duration")
    return timedelta(minutes=duration_minutes)


def window_starts(mask: int, start: datetime, days: int, duration: timedelta) -> Iterator[tuple[datetime, int]]:
    """(UTC start, window number) of every SLOT_STEP start inside the mask's local windows, from `start` on."""
    first_day = to_local(start).date()
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        for period, name in enumerate(weekmask.PERIODS):
            if not mask & weekmask.bit(day.weekday(), period):
                continue
            begin_hour, end_hour = weekmask.PERIOD_HOURS[name]
            slot, window_end = datetime.combine(day, time(begin_hour)), datetime.combine(day, time(end_hour))
            while slot + duration <= window_end:
                if to_utc(slot) >= start:
                    yield to_utc(slot), offset * len(weekmask.PERIODS) + period
                slot += SLOT_STEP


def propose_slots(order: Order, assignee: Assignee, now: datetime, duration_minutes: int = 60, count: int = 5,
                  days: int = 28) -> list[datetime]:
    """The earliest free starts (UTC), one per window, inside the household's and the assignee's windows."""
    duration = _check_duration(duration_minutes)
    mask = order.item.windows & assignee_windows(assignee)
    start = now + PLANNING_LEAD
    busy = _busy(assignee, start, start + timedelta(days=days + 1))
    found: list[datetime] = []
    used_windows: set[int] = set()
    for slot, window in window_starts(mask, start, days, duration):
        if window in used_windows:
            continue
        if not any(b_start < slot + duration and b_end > slot for b_start, b_end in busy):
            found.append(slot)
            used_windows.add(window)
            if len(found) == count:
                break
    return found


# ---- recurrence ---------------------------------------------------------------------------------------------

def build_rrule(repeat: str, first_local: datetime, count: int | None = None) -> str:
    """An RRULE for weekly, fortnightly or monthly repetition from a local start (monthly keeps month ends)."""
    if repeat == "weekly":
        rule = "FREQ=WEEKLY;INTERVAL=1"
    elif repeat == "fortnightly":
        rule = "FREQ=WEEKLY;INTERVAL=2"
    elif repeat == "monthly":
        day = first_local.day
        rule = ("FREQ=MONTHLY;BYMONTHDAY=" + ",".join(str(d) for d in range(28, day + 1)) + ";BYSETPOS=-1"
                if day > 28 else f"FREQ=MONTHLY;BYMONTHDAY={day}")
    else:
        raise ServiceError(_("Choose weekly, fortnightly or monthly."), status=400, field="repeat")
    if count is not None:
        if not 2 <= count <= MAX_SERIES_COUNT:
            raise ServiceError(_("A series has between 2 and %(n)s visits.", n=MAX_SERIES_COUNT), status=400,
                               field="count")
        rule += f";COUNT={count}"
    return rule


def occurrences(rule: str, first_utc: datetime, after: datetime | None, until: datetime) -> list[datetime]:
    """The series' starts (UTC) in (after, until], expanded in local time from the first start."""
    first = to_local(first_utc)
    low = to_local(after) if after is not None else first - timedelta(seconds=1)
    starts = du_rrule.rrulestr(rule, dtstart=first).between(low, to_local(until), inc=True)
    return [to_utc(s) for s in starts if s > low]


def _series_assignee(series: VisitSeries) -> Assignee | None:
    latest = db.session.scalar(sa.select(Visit).where(Visit.series_id == series.id).order_by(Visit.starts_at.desc())
                               .limit(1))
    return Assignee.of(latest) if latest is not None else None


def _expand(series: VisitSeries, assignee: Assignee, until: datetime, strict: bool) -> tuple[int, int]:
    """Create the series' visits up to `until` (assignee locked by the caller); returns (created, skipped)."""
    duration = timedelta(minutes=series.duration_minutes)
    created = skipped = 0
    for start in occurrences(series.rrule, series.starts_at, series.expanded_until, until):
        if conflicts(assignee, start, start + duration):
            if strict:
                raise ServiceError(_("%(name)s already has a visit at %(when)s.", name=assignee.name(),
                                     when=to_local(start).strftime("%Y-%m-%d %H:%M")), field="starts_at")
            skipped += 1
            continue
        db.session.add(Visit(order_id=series.order_id, series_id=series.id, starts_at=start,
                             ends_at=start + duration, **assignee.columns()))
        db.session.flush()
        created += 1
    moved = db.session.execute(
        sa.update(VisitSeries).where(VisitSeries.id == series.id,
                                     VisitSeries.expanded_until.is_(None) if series.expanded_until is None
                                     else VisitSeries.expanded_until == series.expanded_until)
        .values(expanded_until=until).execution_options(synchronize_session=False))
    if moved.rowcount != 1:
        raise ServiceError(_("This series was changed by someone else just now. Please reload and try again."))
    db.session.refresh(series)
    return created, skipped


# ---- planning -----------------------------------------------------------------------------------------------

def _check_plannable(order: Order) -> None:
    if OrderState(order.state) not in PLANNABLE_ORDER_STATES:
        raise ServiceError(_("Visits can be planned only for accepted orders that are not finished."))


def _mark_scheduled(order: Order, actor: User | None, now: datetime) -> None:
    db.session.refresh(order)
    if order.state == OrderState.accepted:
        orders.transition(order, OrderState.scheduled, actor, reason="first visit planned", now=now)


def plan_visit(order: Order, assignee: Assignee, starts_at: datetime, duration_minutes: int, actor: User | None,
               now: datetime, repeat: str | None = None, count: int | None = None) -> Visit:
    """Plan a visit (or a repeating series) for the assignee; refuses past times and double-booking."""
    _check_plannable(order)
    duration = _check_duration(duration_minutes)
    if starts_at <= now:
        raise ServiceError(_("Choose a time in the future."), status=400, field="starts_at")
    _lock(assignee)
    db.session.refresh(order)
    _check_plannable(order)
    if repeat:
        rule = build_rrule(repeat, to_local(starts_at), count)
        series = VisitSeries(order_id=order.id, rrule=rule, starts_at=starts_at, duration_minutes=duration_minutes)
        db.session.add(series)
        db.session.flush()
        _expand(series, assignee, max(starts_at, now + timedelta(weeks=EXPAND_WEEKS)), strict=True)
        visit = db.session.scalar(sa.select(Visit).where(Visit.series_id == series.id).order_by(Visit.starts_at)
                                  .limit(1))
        audit.record("visit_series_planned", actor, "visit_series", series.id, order_id=order.id, rrule=rule)
    else:
        clash = conflicts(assignee, starts_at, starts_at + duration)
        if clash:
            raise ServiceError(_("%(name)s already has a visit at %(when)s.", name=assignee.name(),
                                 when=to_local(clash[0].starts_at).strftime("%Y-%m-%d %H:%M")), field="starts_at")
        visit = Visit(order_id=order.id, starts_at=starts_at, ends_at=starts_at + duration, **assignee.columns())
        db.session.add(visit)
        db.session.flush()
    audit.record("visit_planned", actor, "visit", visit.id, order_id=order.id)
    _mark_scheduled(order, actor, now)
    return visit


def _check_reason(reason: str | None) -> str:
    reason = (reason or "").strip()
    if len(reason) < 2:
        raise ServiceError(_("Please give a reason."), status=400, field="reason")
    return reason[:200]


def _check_status(visit: Visit, *allowed: VisitStatus) -> None:
    db.session.refresh(visit)
    if VisitStatus(visit.status) not in allowed:
        raise ServiceError(_("This visit can no longer be changed."))


def reschedule(visit: Visit, starts_at: datetime, duration_minutes: int | None, reason: str, actor: User,
               now: datetime) -> Visit:
    """Move a planned visit to another time, with a reason; refuses past times and double-booking."""
    reason = _check_reason(reason)
    duration = _check_duration(duration_minutes) if duration_minutes else visit.ends_at - visit.starts_at
    if starts_at <= now:
        raise ServiceError(_("Choose a time in the future."), status=400, field="starts_at")
    assignee = Assignee.of(visit)
    _lock(assignee)
    _check_status(visit, VisitStatus.planned)
    clash = conflicts(assignee, starts_at, starts_at + duration, exclude_id=visit.id)
    if clash:
        raise ServiceError(_("%(name)s already has a visit at %(when)s.", name=assignee.name(),
                             when=to_local(clash[0].starts_at).strftime("%Y-%m-%d %H:%M")), field="starts_at")
    old = visit.starts_at
    visit.starts_at, visit.ends_at, visit.reminded_at = starts_at, starts_at + duration, None
    db.session.flush()
    audit.record("visit_rescheduled", actor, "visit", visit.id, reason=reason, old=old.isoformat(),
                 new=starts_at.isoformat())
    return visit


def cancel(visit: Visit, reason: str, actor: User, now: datetime, following: bool = False) -> int:
    """Cancel a planned visit with a reason (`following`: also the rest of its series); returns visits cancelled."""
    reason = _check_reason(reason)
    _check_status(visit, VisitStatus.planned)
    targets = [visit.id]
    if following and visit.series_id is not None:
        series = db.session.get(VisitSeries, visit.series_id)
        end_rule = ";".join(p for p in series.rrule.split(";") if not p.startswith(("COUNT=", "UNTIL=")))
        series.rrule = end_rule + ";UNTIL=" + (to_local(visit.starts_at) - timedelta(seconds=1)).strftime(
            "%Y%m%dT%H%M%S")
        targets = list(db.session.scalars(sa.select(Visit.id).where(
            Visit.series_id == series.id, Visit.status == VisitStatus.planned, Visit.starts_at >= visit.starts_at)))
    done = db.session.execute(
        sa.update(Visit).where(Visit.id.in_(targets), Visit.status == VisitStatus.planned)
        .values(status=VisitStatus.cancelled, cancel_reason=reason).execution_options(synchronize_session=False))
    db.session.refresh(visit)
    audit.record("visit_cancelled", actor, "visit", visit.id, reason=reason, count=done.rowcount)
    return done.rowcount


# ---- check-in / check-out -----------------------------------------------------------------------------------

def _check_coordinates(lat: float | None, lon: float | None) -> tuple[float | None, float | None]:
    if lat is None or lon is None:
        return None, None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ServiceError(_("The location is not valid."), status=400)
    return round(lat, 6), round(lon, 6)


def check_in(visit: Visit, actor: User, now: datetime, lat: float | None = None, lon: float | None = None) -> Visit:
    """Check in (from an hour before the start); the order's first check-in moves it scheduled -> in_service."""
    if now < visit.starts_at - CHECKIN_EARLY:
        raise ServiceError(_("Check-in opens one hour before the visit starts."))
    lat, lon = _check_coordinates(lat, lon)
    db.session.refresh(visit.order)
    if OrderState(visit.order.state) not in PLANNABLE_ORDER_STATES:
        raise ServiceError(_("This order is finished or cancelled; its visits cannot be checked in."))
    done = db.session.execute(
        sa.update(Visit).where(Visit.id == visit.id, Visit.status == VisitStatus.planned)
        .values(status=VisitStatus.checked_in, checkin_at=now, checkin_lat=lat, checkin_lon=lon)
        .execution_options(synchronize_session=False))
    if done.rowcount != 1:
        raise ServiceError(_("This visit can no longer be checked in."))
    db.session.refresh(visit)
    order = visit.order
    db.session.refresh(order)
    if order.state == OrderState.scheduled:
        orders.transition(order, OrderState.in_service, actor, reason="first check-in", now=now)
    if order.item.status in (ItemStatus.open, ItemStatus.dispatched):
        order.item.status = ItemStatus.in_service
    audit.record("visit_checked_in", actor, "visit", visit.id, located=lat is not None)
    return visit


def check_out(visit: Visit, actor: User, now: datetime, lat: float | None = None, lon: float | None = None,
              notes: str | None = None) -> Visit:
    """Check out: completes the visit; a volunteer's visit gets an (unconfirmed) service record."""
    from socialforce.platform.services import hours

    lat, lon = _check_coordinates(lat, lon)
    values = {"status": VisitStatus.completed, "checkout_at": now, "checkout_lat": lat, "checkout_lon": lon}
    if notes and notes.strip():
        values["notes"] = notes.strip()[:2000]
    done = db.session.execute(
        sa.update(Visit).where(Visit.id == visit.id, Visit.status == VisitStatus.checked_in, Visit.checkin_at <= now)
        .values(**values).execution_options(synchronize_session=False))
    if done.rowcount != 1:
        raise ServiceError(_("Check in before checking out."))
    db.session.refresh(visit)
    if visit.volunteer_id is not None:
        hours.create_record(visit)
    audit.record("visit_checked_out", actor, "visit", visit.id, located=lat is not None)
    return visit


def save_notes(visit: Visit, notes: str, actor: User) -> Visit:
    """Replace a visit's notes (at most 2,000 characters)."""
    notes = (notes or "").strip()
    if len(notes) > 2000:
        raise ServiceError(_("Notes are limited to 2,000 characters."), status=400, field="notes")
    visit.notes = notes or None
    db.session.flush()
    audit.record("visit_notes", actor, "visit", visit.id)
    return visit


# ---- jobs ---------------------------------------------------------------------------------------------------

def generate_recurring_visits(now: datetime) -> dict:
    """Expand every live series EXPAND_WEEKS ahead (idempotent: the `expanded_until` watermark)."""
    until = now + timedelta(weeks=EXPAND_WEEKS)
    series_list = db.session.scalars(
        sa.select(VisitSeries).join(Order, Order.id == VisitSeries.order_id)
        .where(Order.state.in_(PLANNABLE_ORDER_STATES),
               sa.or_(VisitSeries.expanded_until.is_(None), VisitSeries.expanded_until < until))
        .order_by(VisitSeries.id)).all()
    created = skipped = 0
    for series in series_list:
        assignee = _series_assignee(series)
        if assignee is None:
            continue
        _lock(assignee)
        db.session.refresh(series)
        made, clashed = _expand(series, assignee, until, strict=False)
        created, skipped = created + made, skipped + clashed
    return {"series": len(series_list), "created": created, "skipped_conflicts": skipped}


def standing_order(pairing: Pairing, now: datetime) -> Order:
    """The pairing's standing monthly-visit order (emotional comfort), created (accepted) if missing."""
    candidates = db.session.scalars(
        sa.select(Order).join(ServiceItem).join(ServiceCategory)
        .where(Order.provider_id == pairing.provider_id, ServiceItem.household_id == pairing.household_id,
               ServiceCategory.code == QUOTA_CATEGORY, Order.state.in_(PLANNABLE_ORDER_STATES))
        .order_by(Order.id)).all()
    for order in candidates:
        if (order.reasons or {}).get("standing_pairing") == pairing.id:
            return order
    category = db.session.scalar(sa.select(ServiceCategory).where(ServiceCategory.code == QUOTA_CATEGORY))
    item = ServiceItem(household_id=pairing.household_id, category_id=category.id, description=QUOTA_ITEM_TEXT,
                       frequency=Frequency.monthly, windows=weekmask.ALL, status=ItemStatus.dispatched,
                       created_at=now)
    db.session.add(item)
    db.session.flush()
    order = Order(item_id=item.id, provider_id=pairing.provider_id, state=OrderState.proposed, created_at=now,
                  reasons={"standing_pairing": pairing.id})
    db.session.add(order)
    db.session.flush()
    orders.transition(order, OrderState.dispatched, None, reason=STANDING_REASON, now=now)
    orders.transition(order, OrderState.accepted, None, reason=STANDING_REASON, now=now,
                      assignee_id=pairing.cadre_id)
    return order


def visits_this_month(provider_id: int, household_id: int, now: datetime, statuses=BUSY) -> int:
    """A provider's visits to a household in the current local month with one of `statuses`."""
    start, end = local_month_bounds(now)
    return db.session.scalar(
        sa.select(sa.func.count(Visit.id)).join(Order, Order.id == Visit.order_id).join(ServiceItem)
        .where(Order.provider_id == provider_id, ServiceItem.household_id == household_id,
               Visit.status.in_(statuses), Visit.starts_at >= start, Visit.starts_at < end))


def generate_quota_visits(now: datetime) -> dict:
    """Plan this month's missing pairing visits (PairingUnit.monthly_visit_quota) for each pairing's cadre."""
    rows = db.session.execute(
        sa.select(Pairing, PairingUnit.monthly_visit_quota)
        .join(PairingUnit, PairingUnit.provider_id == Pairing.provider_id)
        .join(Provider, Provider.id == Pairing.provider_id)
        .where(Pairing.ended_on.is_(None), Provider.status == ProviderStatus.approved).order_by(Pairing.id)).all()
    _, month_end = local_month_bounds(now)
    created = no_cadre = no_slot = 0
    for pairing, quota in rows:
        missing = quota - visits_this_month(pairing.provider_id, pairing.household_id, now)
        if missing <= 0:
            continue
        if pairing.cadre_id is None or not pairing.cadre.active:
            no_cadre += 1
            continue
        order = standing_order(pairing, now)
        assignee = Assignee(member_id=pairing.cadre_id)
        _lock(assignee)
        days = (to_local(month_end).date() - to_local(now).date()).days
        for start in propose_slots(order, assignee, now, QUOTA_VISIT_MINUTES, count=missing, days=days):
            if start + timedelta(minutes=QUOTA_VISIT_MINUTES) > month_end:
                break
            visit = Visit(order_id=order.id, starts_at=start, ends_at=start + timedelta(minutes=QUOTA_VISIT_MINUTES),
                          **assignee.columns())
            db.session.add(visit)
            db.session.flush()
            missing -= 1
            created += 1
        no_slot += missing > 0
        _mark_scheduled(order, None, now)
    return {"pairings": len(rows), "created": created, "no_cadre": no_cadre, "no_slot": no_slot}


def _notifications():
    from socialforce.platform.services import notifications

    return notifications


def _visit_params(visit: Visit) -> dict:
    return {"visit_id": visit.id, "order_id": visit.order_id, "category": visit.order.item.category.code,
            "when": visit.starts_at.isoformat(timespec="minutes")}


def visit_path(visit: Visit) -> str:
    """The assignee's portal page of a visit (the link in notifications)."""
    if visit.volunteer_id is not None:
        return f"/volunteer/visits/{visit.id}"
    member = db.session.get(ProviderMember, visit.assignee_id)
    return f"/{'unit' if member.role == MemberRole.cadre else 'agency'}/visits/{visit.id}"


def send_reminders(now: datetime) -> dict:
    """Remind assignees of visits starting within 24 hours, once per visit (`reminded_at`)."""
    due = db.session.scalars(
        sa.select(Visit).where(Visit.status == VisitStatus.planned, Visit.reminded_at.is_(None),
                               Visit.starts_at >= now, Visit.starts_at < now + REMIND_AHEAD)
        .order_by(Visit.starts_at, Visit.id)).all()
    sent = 0
    for visit in due:
        claimed = db.session.execute(
            sa.update(Visit).where(Visit.id == visit.id, Visit.reminded_at.is_(None))
            .values(reminded_at=now).execution_options(synchronize_session=False))
        if claimed.rowcount != 1:
            continue
        db.session.refresh(visit)
        _notifications().notify(Assignee.of(visit).user_ids(), "visit_reminder", _visit_params(visit),
                                visit_path(visit))
        sent += 1
    return {"reminded": sent}


def mark_missed(now: datetime) -> dict:
    """Mark planned visits not checked in 2 hours after their start as missed and tell the town's staff."""
    late = db.session.scalars(
        sa.select(Visit).where(Visit.status == VisitStatus.planned, Visit.starts_at <= now - MISSED_AFTER)
        .order_by(Visit.starts_at, Visit.id)).all()
    missed = 0
    for visit in late:
        done = db.session.execute(
            sa.update(Visit).where(Visit.id == visit.id, Visit.status == VisitStatus.planned)
            .values(status=VisitStatus.missed).execution_options(synchronize_session=False))
        if done.rowcount != 1:
            continue
        db.session.refresh(visit)
        audit.record("visit_missed", None, "visit", visit.id, order_id=visit.order_id)
        _notifications().notify_town_staff(visit.order.item.household.town_id, "visit_missed",
                                           _visit_params(visit), f"/staff/visits/{visit.id}")
        missed += 1
    return {"missed": missed}


# ---- read models --------------------------------------------------------------------------------------------

def visit_filter(user: User) -> sa.ColumnElement[bool]:
    """The WHERE clause (over Visit joined to Order, ServiceItem, Household) limiting visits to the user's scope."""
    if user.role in (Role.city_staff, Role.town_staff):
        return household_filter(user)
    if user.role in (Role.social_worker, Role.cadre):
        return Visit.assignee_id == (user.member_id or -1)
    if user.role == Role.volunteer:
        return Visit.volunteer_id == sa.select(Volunteer.id).where(
            Volunteer.provider_id == user.provider_id).scalar_subquery()
    return Order.provider_id == user.provider_id


def scoped_visits(user: User) -> sa.Select:
    """Visits in the user's scope (joined to their order, item and household)."""
    return (sa.select(Visit).join(Order, Order.id == Visit.order_id).join(ServiceItem)
            .join(Household, Household.id == ServiceItem.household_id).where(visit_filter(user)))


def get_visit(visit_id: int, user: User) -> Visit | None:
    """One visit in the user's scope, or None."""
    return db.session.scalar(scoped_visits(user).where(Visit.id == visit_id))


def week(assignee: Assignee, monday: date) -> list[Visit]:
    """The assignee's visits (not cancelled) in the local week starting `monday`."""
    start = to_utc(datetime.combine(monday, time()))
    return list(db.session.scalars(
        sa.select(Visit).where(assignee.visit_filter(), Visit.status != VisitStatus.cancelled,
                               Visit.starts_at >= start, Visit.starts_at < start + timedelta(days=7))
        .order_by(Visit.starts_at)))


def order_visits(order: Order) -> list[Visit]:
    """An order's visits in time order."""
    return list(db.session.scalars(sa.select(Visit).where(Visit.order_id == order.id).order_by(Visit.starts_at)))


@dataclass(frozen=True)
class UnitCompliance:
    """A pairing unit's monthly-visit quota compliance in the current month."""

    provider: Provider
    households: int
    quota: int
    visits_done: int
    households_met: int

    @property
    def percent(self) -> int:
        """Paired households that got their quota of completed visits, in percent."""
        return round(100 * self.households_met / self.households) if self.households else 100


def quota_compliance(user: User, now: datetime) -> list[UnitCompliance]:
    """Per pairing unit with paired households in the user's scope: completed visits this month and compliance."""
    start, end = local_month_bounds(now)
    done = (sa.select(sa.func.count(Visit.id)).join(Order, Order.id == Visit.order_id).join(ServiceItem)
            .where(Order.provider_id == Pairing.provider_id, ServiceItem.household_id == Pairing.household_id,
                   Visit.status == VisitStatus.completed, Visit.starts_at >= start, Visit.starts_at < end)
            .scalar_subquery())
    per_pairing = (sa.select(Pairing.provider_id.label("provider_id"), PairingUnit.monthly_visit_quota.label("quota"),
                             done.label("done"))
                   .join(PairingUnit, PairingUnit.provider_id == Pairing.provider_id)
                   .join(Household, Household.id == Pairing.household_id)
                   .where(Pairing.ended_on.is_(None), household_filter(user)).subquery())
    rows = db.session.execute(
        sa.select(per_pairing.c.provider_id, sa.func.max(per_pairing.c.quota), sa.func.count(),
                  sa.func.sum(per_pairing.c.done),
                  sa.func.sum(sa.case((per_pairing.c.done >= per_pairing.c.quota, 1), else_=0)))
        .group_by(per_pairing.c.provider_id).order_by(per_pairing.c.provider_id)).all()
    providers = {p.id: p for p in db.session.scalars(
        sa.select(Provider).where(Provider.id.in_([r[0] for r in rows])))}
    return [UnitCompliance(providers[pid], count, quota, int(visits or 0), int(met or 0))
            for pid, quota, count, visits, met in rows]


def _assignee_town_filter(user: User) -> sa.ColumnElement[bool]:
    return sa.true() if user.role == Role.city_staff else Provider.town_id == (user.town_id or -1)


def find_assignees(user: User, query: str, limit: int = 20) -> tuple[list[ProviderMember], list[Volunteer]]:
    """Social workers, cadres and volunteers of providers in a staff user's scope whose name contains `query`."""
    pattern = f"%{query.strip()}%"
    members = db.session.scalars(
        sa.select(ProviderMember).join(Provider, Provider.id == ProviderMember.provider_id)
        .where(_assignee_town_filter(user), ProviderMember.name.like(pattern)).order_by(ProviderMember.name)
        .limit(limit)).all()
    volunteers = db.session.scalars(
        sa.select(Volunteer).join(Provider, Provider.id == Volunteer.provider_id)
        .where(_assignee_town_filter(user), Volunteer.real_name.like(pattern)).order_by(Volunteer.real_name)
        .limit(limit)).all()
    return list(members), list(volunteers)


def assignee_in_scope(user: User, member_id: int | None, volunteer_id: int | None) -> Assignee | None:
    """The named member or volunteer if their provider is in a staff user's scope, else None."""
    if member_id:
        found = db.session.scalar(sa.select(ProviderMember.id).join(Provider, Provider.id == ProviderMember.provider_id)
                                  .where(ProviderMember.id == member_id, _assignee_town_filter(user)))
        return Assignee(member_id=found) if found else None
    if volunteer_id:
        found = db.session.scalar(sa.select(Volunteer.id).join(Provider, Provider.id == Volunteer.provider_id)
                                  .where(Volunteer.id == volunteer_id, _assignee_town_filter(user)))
        return Assignee(volunteer_id=found) if found else None
    return None


@dataclass(frozen=True)
class Timeline:
    """A household's material assistance by month beside its service items, orders, visits and outcomes."""

    material: list[tuple[date, int, list[str]]]  # month, total cents, in-kind notes
    items: list[ServiceItem]
    orders_by_item: dict[int, list[Order]]
    visits_by_order: dict[int, list[Visit]]
    outcomes_by_order: dict[int, list[Outcome]]


def household_timeline(household: Household) -> Timeline:
    """Everything the household received, material and services, for the staff timeline page."""
    material: dict[date, tuple[int, list[str]]] = {}
    for row in db.session.scalars(sa.select(MaterialAssistance).where(MaterialAssistance.household_id == household.id)
                                  .order_by(MaterialAssistance.month.desc())):
        cents, kinds = material.get(row.month, (0, []))
        material[row.month] = (cents + row.amount_cents, kinds + ([row.in_kind] if row.in_kind else []))
    items = list(db.session.scalars(sa.select(ServiceItem).where(ServiceItem.household_id == household.id)
                                    .order_by(ServiceItem.created_at.desc(), ServiceItem.id.desc())))
    order_list = list(db.session.scalars(sa.select(Order).where(Order.item_id.in_([i.id for i in items]))
                                         .order_by(Order.id)))
    order_ids = [o.id for o in order_list]
    visits_by_order: dict[int, list[Visit]] = {}
    for visit in db.session.scalars(sa.select(Visit).where(Visit.order_id.in_(order_ids)).order_by(Visit.starts_at)):
        visits_by_order.setdefault(visit.order_id, []).append(visit)
    outcomes_by_order: dict[int, list[Outcome]] = {}
    for outcome in db.session.scalars(sa.select(Outcome).where(Outcome.order_id.in_(order_ids)).order_by(Outcome.id)):
        outcomes_by_order.setdefault(outcome.order_id, []).append(outcome)
    orders_by_item: dict[int, list[Order]] = {}
    for order in order_list:
        orders_by_item.setdefault(order.item_id, []).append(order)
    return Timeline([(m, c, k) for m, (c, k) in material.items()], items, orders_by_item, visits_by_order,
                    outcomes_by_order)
