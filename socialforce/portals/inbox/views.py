"""Inbox views: the user's notifications, mark read (one or all); city staff also see undelivered outbox messages."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from socialforce.platform.extensions import db
from socialforce.platform.models import ApiClient, Notification, Role, User
from socialforce.platform.services import ServiceError, notification_prefs, notifications
from socialforce.platform.transactions import run_in_transaction
from socialforce.portals.page_helpers import day_range_args, paginated
from socialforce.portals.staff.audit_log import mask_digits

bp = Blueprint("inbox", __name__, template_folder="templates")
CHANNEL_LABELS = {"log": _l("Server log"), "email": _l("E-mail"), "sms": _l("SMS"), "webhook": _l("Partner webhook")}
FILTER_ARGS = ("state", "channel", "kind", "date_from", "date_to", "page", "per_page")
STATE_LABELS = {"failed": _l("Failed (can be retried)"), "dropped": _l("Dropped (never to be sent)")}


@bp.before_request
def _require_login():
    if not current_user.is_authenticated:
        return redirect(url_for("public.login", next=request.full_path))
    return None


@bp.app_context_processor
def _unread_badge() -> dict:
    """`unread_notifications()` for the navbar badge (queried only when a template calls it)."""

    def unread_notifications() -> int:
        if not current_user.is_authenticated:
            return 0
        try:
            return notifications.unread_count(current_user.id)
        except sa.exc.SQLAlchemyError:  # an error page must still render when the database is down
            return 0

    return {"unread_notifications": unread_notifications}


def _page_number() -> int:
    return request.args.get("page", 1, type=int) or 1


def index():
    """The user's notifications, newest first, unread highlighted."""
    page = paginated(notifications.inbox_query(current_user), page=_page_number())
    return render_template("inbox/index.html", page=page, render=notifications.render,
                           is_city_staff=current_user.role == Role.city_staff)


def _own_link(note: Notification) -> str | None:
    """The notification's link if it is a same-site path."""
    link = note.link or ""
    return link if link.startswith("/") and not link.startswith("//") else None


def read(notification_id: int):
    """Mark one of the user's notifications read (404 for anyone else's); `open` follows its link."""
    note = run_in_transaction(lambda: notifications.mark_read(current_user, notification_id))
    if note is None:
        abort(404)
    if request.form.get("open") and _own_link(note):
        return redirect(_own_link(note))
    flash(_("Notification marked as read."), "success")
    return redirect(url_for("inbox.index", page=request.form.get("page", 1, type=int)))


def read_all():
    """Mark every unread notification of the user read."""
    count = run_in_transaction(lambda: notifications.mark_all_read(current_user))
    if count:
        flash(_("%(count)s notifications marked as read.", count=count), "success")
    else:
        flash(_("There were no unread notifications."), "info")
    return redirect(url_for("inbox.index"))


def _require_city_staff() -> None:
    if current_user.role != Role.city_staff:
        abort(403)


def failed():
    """Undelivered outbox messages, failed (retryable) and dropped, with their reason; filters: state, channel,
    kind, from and to dates (city staff)."""
    _require_city_staff()
    errors: dict[str, str] = {}
    since, until = day_range_args(errors)
    where = notifications.UndeliveredFilter(
        *((request.args.get(name) or "").strip()[:40] or None for name in ("state", "channel", "kind")), since, until)
    errors.update(where.problems())
    if errors:  # a value not from the lists filters nothing rather than everything
        where = notifications.UndeliveredFilter(since=since, until=until)
    page = paginated(notifications.undelivered_messages(where, current_user))
    note_ids = {m.notification_id for m in page.items if m.notification_id is not None}
    notes = {n.id: n for n in db.session.scalars(sa.select(Notification).where(Notification.id.in_(note_ids)))}
    users = {u.id: u for u in db.session.scalars(
        sa.select(User).where(User.id.in_({n.user_id for n in notes.values()})))}
    partners = {c.id: c for c in db.session.scalars(sa.select(ApiClient).where(
        ApiClient.id.in_({m.api_client_id for m in page.items if m.api_client_id is not None})))}
    return render_template("inbox/failed.html", page=page, notes=notes, users=users, partners=partners,
                           render=notifications.render,
                           reason=lambda m: mask_digits(notifications.undelivered_reason(m)), errors=errors,
                           kinds=[(k, notification_prefs.KIND_LABELS.get(k, k)) for k in sorted(notifications.MESSAGES)],
                           channels=CHANNEL_LABELS, states=STATE_LABELS), 400 if errors else 200


def retry(message_id: int):
    """Queue a failed outbox message again (city staff); back to the list with its filters."""
    _require_city_staff()
    back = url_for("inbox.failed", **{k: v for k, v in request.args.items() if k in FILTER_ARGS})
    try:
        run_in_transaction(lambda: notifications.retry_failed(message_id, current_user))
    except ServiceError as error:
        flash(error.message, "warning")
        return redirect(back)
    flash(_("The message will be sent again within a minute."), "success")
    return redirect(back)
