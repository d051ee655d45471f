"""Calendars: the secret iCalendar feed (no login: the token is the key) and the page where a user creates or
rotates its URL; the single-visit and single-task .ics downloads of the portals use `visit_url` below."""
from __future__ import annotations

from flask import Response, abort, render_template, request, url_for
from flask_login import current_user, login_required

from socialforce.platform.auth import portal_of
from socialforce.platform.models import User, Visit, utcnow
from socialforce.platform.services import calendars
from socialforce.platform.transactions import run_in_transaction
from socialforce.portals.downloads import send

ICS_MIMETYPE = "text/calendar; charset=utf-8"


def visit_url(user: User):
    """A function giving the absolute URL of a visit's page in the user's portal (for the event's URL)."""
    portal = portal_of(user.role)
    return lambda visit: url_for(f"{portal}.visit", visit_id=visit.id, _external=True)


def feed(feed_token: str):
    """The user's calendar feed; an unknown, rotated or deactivated user's token gets 404."""
    user = calendars.user_for_token(feed_token)
    if user is None:
        abort(404)
    now = utcnow()
    body = calendars.build_feed(user, now, visit_url(user))
    run_in_transaction(lambda: calendars.touch_feed(user, now))
    response = Response(body, content_type=ICS_MIMETYPE)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


def _feed_url(token: str) -> str:
    return url_for("public.calendar_feed", feed_token=token, _external=True)


@login_required
def settings():
    """How to subscribe, and a button that creates or replaces the secret URL (shown once, right after)."""
    if not calendars.has_feed_role(current_user):
        abort(404)
    new_url = None
    if request.method == "POST":
        token = run_in_transaction(lambda: calendars.rotate_feed(current_user, utcnow()))
        new_url = _feed_url(token)
    feed_row = calendars.feed_of(current_user)
    return render_template("public/calendar.html", feed=feed_row, new_url=new_url,
                           webcal_url=new_url.replace("https://", "webcal://").replace("http://", "webcal://")
                           if new_url else None)


def visit_file(visit: Visit):
    """One visit (already scoped by the caller) as an audited .ics download."""
    data = calendars.visit_file(visit, current_user, utcnow(), visit_url(current_user))
    return send("visit_ics", data, f"visit-{visit.id}.ics", visit_id=visit.id)
