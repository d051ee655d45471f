"""Notification settings (every role): e-mail and SMS per kind of notice, and quiet hours."""
from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from socialforce.platform.services import ServiceError, notification_prefs
from socialforce.platform.services.notification_prefs import SettingsInput
from socialforce.platform.transactions import run_in_transaction


def _page(data: SettingsInput, errors: dict[str, str] | None = None, status: int = 200):
    offered = [c for c in notification_prefs.OPT_IN_CHANNELS if c in current_app.config["NOTIFY_CHANNELS"]]
    html = render_template(
        "inbox/settings.html", data=data, errors=errors or {}, offered=offered,
        kinds=[(kind, notification_prefs.KIND_LABELS.get(kind, kind)) for kind in
               notification_prefs.kinds_for(current_user)],
        email_verified=bool(current_user.email and current_user.email_verified_at),
        phone_verified=bool(current_user.phone_enc and current_user.phone_verified_at),
        phone_masked=current_user.phone_masked)
    return html, status


def settings():
    """The user's notification choices."""
    row = notification_prefs.settings_of(current_user.id)
    if row is None:
        return _page(SettingsInput())
    return _page(SettingsInput(tuple(row.email_kinds or ()), tuple(row.sms_kinds or ()),
                               notification_prefs.format_minutes(row.quiet_start),
                               notification_prefs.format_minutes(row.quiet_end)))


def settings_save():
    """Store the user's choices; bad input is shown next to its field and nothing is changed."""
    data = SettingsInput(tuple(request.form.getlist("email")), tuple(request.form.getlist("sms")),
                         request.form.get("quiet_start", "")[:10], request.form.get("quiet_end", "")[:10])
    try:
        run_in_transaction(lambda: notification_prefs.save(current_user, data))
    except ServiceError as error:
        return _page(data, {error.field or "kinds": error.message}, error.status)
    flash(_("Your notification settings were saved."), "success")
    return redirect(url_for("inbox.settings"))
