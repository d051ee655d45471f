"""Cross-county grants (county staff): the providers of other counties that may serve this county; grant by code,
revoke."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from socialforce.platform.i18n import select_locale
from socialforce.platform.inputs import parse_int
from socialforce.platform.services import ServiceError, grants
from socialforce.platform.transactions import run_in_transaction
from socialforce.portals import confirm
from socialforce.portals.staff.accounts import require_city_staff
from socialforce.portals.staff.providers import KIND_LABELS


def _page(error: ServiceError | None = None, status: int = 200):
    return render_template("staff/grants.html", grants=grants.granted(current_user, select_locale() == "zh_CN"),
                           kind_labels=KIND_LABELS, error=error), status


def grants_page():
    """The providers of other counties granted this county; the form grants one by its code."""
    require_city_staff()
    if request.method == "GET":
        return _page()
    try:
        provider = run_in_transaction(lambda: grants.grant(current_user, request.form.get("code", ""),
                                                           request.remote_addr))
    except ServiceError as e:
        return _page(error=e, status=e.status)
    flash(_("%(name)s may now serve your county.", name=provider.name), "success")
    return redirect(url_for("staff.grants"), 303)


def grant_revoke():
    """Take the county back from a granted provider."""
    require_city_staff()
    provider_id = parse_int(request.form.get("provider_id")) or 0
    if not confirm.confirmed():
        grant = next((g for g in grants.granted(current_user) if g.provider_id == provider_id), None)
        if grant is None:
            flash(_("This provider holds no grant for your county."), "danger")
            return redirect(url_for("staff.grants"), 303)
        return confirm.ask(_("Revoke the grant of %(name)s?", name=grant.name),
                           _("%(n)s of its offers stop covering your towns (an offer left with no town is paused); "
                             "orders already dispatched run on.", n=grant.offers_here),
                           _("Revoke"), url_for("staff.grants"), danger=True)
    try:
        changed = run_in_transaction(lambda: grants.revoke(current_user, provider_id, request.remote_addr))
    except ServiceError as e:
        flash(e.message, "danger")
    else:
        flash(_("The grant is revoked; %(n)s of its offers no longer cover your towns.", n=changed), "info")
    return redirect(url_for("staff.grants"), 303)
