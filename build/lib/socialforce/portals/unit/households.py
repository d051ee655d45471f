"""Paired households of a pairing unit: this month's visit-quota compliance and recording a monthly visit.

The unit's administrator sees every active pairing; a cadre sees the households they visit. Household data is
minimal (village, masked head name); the exact address is on the household page, which is what a visit needs.
"""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from socialforce.platform.extensions import db
from socialforce.platform.localtime import month_bounds, to_local
from socialforce.platform.models import Pairing, Provider, ServiceItem, Visit, VisitStatus, utcnow
from socialforce.platform.services import ServiceError, quotas, visits
from socialforce.platform.services import provider_profiles as profiles
from socialforce.platform.transactions import run_in_transaction
from socialforce.portals.page_helpers import paginated


def pairing_or_404(pairing_id: int) -> Pairing:
    """An active pairing in the user's scope, else 404."""
    pairing = profiles.get_pairing(pairing_id, current_user)
    if pairing is None:
        abort(404)
    return pairing


def _month() -> str:
    return to_local(utcnow()).strftime("%Y-%m")


def households():
    """The paired households with this month's completed visits against the quota, and a record button each."""
    now = utcnow()
    provider = db.session.get(Provider, current_user.provider_id)
    page = paginated(profiles.pairings_page_query(current_user))
    rows = profiles.paired_households(list(page.items), profiles.monthly_quota(provider), now)
    return render_template("unit/households.html", portal="unit", page=page, rows=rows,
                           summary=profiles.quota_summary(current_user, now), month=_month())


def household(pairing_id: int):
    """One paired household: this month's visits and the form to record a visit made today."""
    pairing = pairing_or_404(pairing_id)
    now = utcnow()
    start, end = month_bounds(now)
    row = profiles.paired_households([pairing], profiles.monthly_quota(profiles.pairing_provider(pairing)), now)[0]
    month_visits = db.session.scalars(
        visits.scoped_visits(current_user)
        .where(Visit.starts_at >= start, Visit.starts_at < end,
               ServiceItem.household_id == pairing.household_id)
        .order_by(Visit.starts_at)).all()
    return render_template("unit/household.html", portal="unit", row=row, pairing=pairing,
                           household=pairing.household, month_visits=month_visits, month=_month(),
                           cadres=profiles.cadres_for(pairing, current_user),
                           phone=pairing.household.phone_masked)


def record_visit(pairing_id: int):
    """Record a visit made to the household today (standing order: plan, check in, check out)."""
    pairing = pairing_or_404(pairing_id)
    visitor_id = request.form.get("cadre_id", type=int)
    notes = request.form.get("notes") or None
    try:
        run_in_transaction(lambda: profiles.record_monthly_visit(pairing, visitor_id, current_user, utcnow(), notes))
    except ServiceError as e:
        flash(e.message, "danger")
        return redirect(url_for("unit.household", pairing_id=pairing_id), 303)
    flash(_("The visit to %(head)s's household was recorded (%(done)s this month).",
            head=profiles.mask_name(pairing.household.head_name),
            done=quotas.visits_this_month(pairing.provider_id, pairing.household_id, utcnow(),
                                          (VisitStatus.completed,))), "success")
    target = request.form.get("next")
    if target == "list":
        return redirect(url_for("unit.households", page=request.form.get("page", type=int)), 303)
    return redirect(url_for("unit.household", pairing_id=pairing_id), 303)
