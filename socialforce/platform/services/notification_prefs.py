"""Each user's notification choices: e-mail and SMS per kind of notice (opt-in; the inbox always) and quiet hours.

Quiet hours are a local (Asia/Shanghai) window, start to end, that may span midnight (22:00-07:00); an e-mail or SMS
due inside it waits until it ends (notifications.URGENT_KINDS excepted). A user without a row gets the inbox only.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from socialforce.platform.extensions import db
from socialforce.platform.localtime import to_local, to_utc
from socialforce.platform.models import NotificationSettings, Role, User, utcnow
from socialforce.platform.services import ServiceError, audit

OPT_IN_CHANNELS = ("email", "sms")
_STAFF = ("order_accepted", "order_declined", "order_expired", "order_redispatched", "order_completed",
          "order_escalated", "task_withdrawn", "visit_missed", "volunteer_registration_pending",
          "volunteer_signup_id_taken", "volunteer_signup_username_taken", "certification_pending", "hours_pending",
          "village_need_pending")
_PROVIDER = ("order_dispatched", "order_expired", "order_cancelled", "visit_scheduled", "visit_rescheduled",
             "visit_cancelled", "visit_reminder")
_VOLUNTEER = ("task_published", "order_cancelled", "visit_scheduled", "visit_rescheduled", "visit_cancelled",
              "visit_reminder", "volunteer_approved", "volunteer_rejected", "waitlist_offer", "waitlist_offer_lapsed")
_VILLAGE = ("order_completed", "visit_missed")
ROLE_KINDS: dict[Role, tuple[str, ...]] = {
    Role.city_staff: _STAFF, Role.town_staff: _STAFF, Role.prefecture_staff: (), Role.agency_admin: _PROVIDER, Role.unit_admin: _PROVIDER,
    Role.social_worker: _PROVIDER, Role.cadre: _PROVIDER, Role.volunteer: _VOLUNTEER,
    Role.village_assistant: _VILLAGE,
}
KIND_LABELS = {
    "order_dispatched": _l("New orders for us"),
    "order_accepted": _l("An order was accepted"),
    "order_declined": _l("An order was declined"),
    "order_expired": _l("An order expired without an answer"),
    "order_redispatched": _l("An item was dispatched again"),
    "order_cancelled": _l("An order was cancelled"),
    "order_completed": _l("An order was completed"),
    "order_escalated": _l("An item needs staff attention"),
    "task_published": _l("New volunteer tasks that fit me"),
    "task_withdrawn": _l("A volunteer withdrew from a task"),
    "visit_scheduled": _l("A visit was scheduled"),
    "visit_rescheduled": _l("A visit was moved"),
    "visit_cancelled": _l("A visit was cancelled"),
    "visit_reminder": _l("Visit reminders (a day ahead)"),
    "visit_missed": _l("A visit was missed"),
    "volunteer_registration_pending": _l("Volunteer registrations awaiting review"),
    "certification_pending": _l("Volunteer certificates awaiting verification"),
    "hours_pending": _l("Volunteer hours awaiting confirmation"),
    "village_need_pending": _l("Village needs awaiting approval"),
    "waitlist_offer": _l("A place on a task I am waiting for is free"),
    "waitlist_offer_lapsed": _l("My offer of a place lapsed"),
    "volunteer_approved": _l("My registration was approved"),
    "volunteer_rejected": _l("My registration was not approved"),
    "volunteer_signup_id_taken": _l("A sign-up used a registered ID number"),
    "volunteer_signup_username_taken": _l("A sign-up chose a username in use"),
}


@dataclass(frozen=True)
class SettingsInput:
    """What the settings form sends: the kinds ticked per channel and the quiet window ("HH:MM" or empty)."""

    email_kinds: tuple[str, ...] = ()
    sms_kinds: tuple[str, ...] = ()
    quiet_start: str = ""
    quiet_end: str = ""


def kinds_for(user: User) -> tuple[str, ...]:
    """The kinds of notice a user of this role can receive (the rows of the settings page)."""
    return ROLE_KINDS.get(Role(user.role), ())


def settings_of(user_id: int) -> NotificationSettings | None:
    """The user's stored choices, or None (inbox only, no quiet hours)."""
    return db.session.get(NotificationSettings, user_id)


def channels_for(user_ids: Iterable[int], kind: str, offered: Iterable[str]) -> dict[int, list[str]]:
    """Per user, the external channels a notice of `kind` goes to: offered ones that are not opt-in, plus the
    opt-in ones the user chose for this kind."""
    ids = list(user_ids)
    offered = list(dict.fromkeys(offered))
    always = [c for c in offered if c not in OPT_IN_CHANNELS]
    rows = {s.user_id: s for s in db.session.scalars(
        sa.select(NotificationSettings).where(NotificationSettings.user_id.in_(ids)))} if ids else {}
    chosen = {}
    for user_id in ids:
        row = rows.get(user_id)
        picked = {"email": row.email_kinds or [], "sms": row.sms_kinds or []} if row is not None else {}
        chosen[user_id] = always + [c for c in offered if c in OPT_IN_CHANNELS and kind in picked.get(c, [])]
    return chosen


def _minutes(text: str, field: str) -> int | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        parsed = time.fromisoformat(text)
    except ValueError:
        raise ServiceError(_("Enter a time as HH:MM, for example 22:00."), status=400, field=field) from None
    return parsed.hour * 60 + parsed.minute


def save(user: User, data: SettingsInput) -> NotificationSettings:
    """Store the user's choices (only kinds their role receives; a quiet window needs both ends); audited."""
    allowed = set(kinds_for(user))
    for kinds in (data.email_kinds, data.sms_kinds):
        if not set(kinds) <= allowed:
            raise ServiceError(_("Choose only the kinds of notice listed."), status=400)
    start, end = _minutes(data.quiet_start, "quiet_start"), _minutes(data.quiet_end, "quiet_end")
    if (start is None) != (end is None):
        raise ServiceError(_("Give both the start and the end of the quiet hours, or neither."), status=400,
                           field="quiet_end" if end is None else "quiet_start")
    if start is not None and start == end:
        raise ServiceError(_("The quiet hours must end at another time than they start."), status=400,
                           field="quiet_end")
    row = settings_of(user.id)
    if row is None:
        row = NotificationSettings(user_id=user.id)
        db.session.add(row)
    row.email_kinds = sorted(set(data.email_kinds))
    row.sms_kinds = sorted(set(data.sms_kinds))
    row.quiet_start, row.quiet_end, row.updated_at = start, end, utcnow()
    db.session.flush()
    audit.record("notification_settings", user, "user", user.id, email=len(row.email_kinds), sms=len(row.sms_kinds),
                 quiet=start is not None)
    return row


def in_window(minute: int, start: int, end: int) -> bool:
    """Whether a local minute of the day lies in [start, end), a window that may span midnight."""
    return start <= minute < end if start < end else minute >= start or minute < end


def quiet_until(user_id: int, now: datetime) -> datetime | None:
    """When the user's quiet hours end (naive UTC), if `now` lies inside them; else None."""
    row = settings_of(user_id)
    if row is None or row.quiet_start is None or row.quiet_end is None:
        return None
    local = to_local(now)
    if not in_window(local.hour * 60 + local.minute, row.quiet_start, row.quiet_end):
        return None
    end = datetime.combine(local.date(), time(row.quiet_end // 60, row.quiet_end % 60))
    if end <= local:
        end += timedelta(days=1)
    return to_utc(end)


def format_minutes(value: int | None) -> str:
    """A minute of the day as HH:MM (empty for None)."""
    return "" if value is None else f"{value // 60:02d}:{value % 60:02d}"
