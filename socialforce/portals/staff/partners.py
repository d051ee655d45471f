"""Partner systems (city staff): register a client (its id and secrets shown once), list and revoke clients."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from socialforce.platform import reference
from socialforce.platform.inputs import parse_int
from socialforce.platform.models import utcnow
from socialforce.platform.models.tokens import PARTNER_SCOPES
from socialforce.platform.services import ServiceError, partners
from socialforce.platform.transactions import run_in_transaction
from socialforce.portals.staff.accounts import require_city_staff

SCOPE_LABELS = {"households:read": _l("Households, masked (read)"), "items:read": _l("Service items (read)"),
                "orders:read": _l("Orders and their webhooks (read)"),
                "visits:read": _l("Visits, outcomes and their webhooks (read)"),
                "feedback:read": _l("Household feedback (read)")}


def _page(created: dict | None = None, error: ServiceError | None = None, status: int = 200):
    return render_template("staff/partners.html", clients=partners.clients(current_user), scopes=PARTNER_SCOPES,
                           scope_labels=SCOPE_LABELS,
                           towns=reference.scope_towns(current_user), created=created, error=error, now=utcnow()), status


def partners_page():
    """The registered partner clients; the form registers one and shows its credentials once."""
    require_city_staff()
    if request.method == "GET":
        return _page()
    form = request.form
    towns = [t for t in (parse_int(v) for v in form.getlist("towns")) if t is not None]
    try:
        client, secret, webhook_secret = run_in_transaction(lambda: partners.create(
            current_user, form.get("name", ""), form.getlist("scopes"), towns, parse_int(form.get("days")) or 0,
            form.get("webhook_url", "")))
    except ServiceError as e:
        return _page(error=e, status=400)
    return _page(created={"client_id": client.client_id, "secret": secret, "webhook_secret": webhook_secret})


def partner_revoke(partner_id: int):
    """Revoke a partner client: its tokens stop working at once."""
    require_city_staff()
    try:
        run_in_transaction(lambda: partners.revoke(current_user, partner_id))
    except ServiceError as e:
        flash(e.message, "danger")
    else:
        flash(_("The partner is revoked."), "info")
    return redirect(url_for("staff.partners"), 303)
