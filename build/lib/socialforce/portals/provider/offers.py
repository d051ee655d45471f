"""Capacity-offer pages of the provider portals: list, publish, edit, pause, resume.

Everyone in the organisation sees its offers; only its administrator changes them. Another provider's offer id
is answered 404, like a missing one.
"""
from __future__ import annotations

from datetime import date

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from socialforce.platform import reference
from socialforce.platform.extensions import db
from socialforce.platform.inputs import parse_date, parse_ids, parse_int
from socialforce.platform.localtime import today
from socialforce.platform.models import OfferStatus, Provider, ServiceOffer, User
from socialforce.platform.services import ServiceError, offers
from socialforce.platform.transactions import run_in_transaction
from socialforce.platform.weekmask import WEEKDAYS
from socialforce.portals.page_helpers import mask_from_form, paginated
from socialforce.portals.provider.access import is_admin, own_provider, portal, require_admin


def offer_input(form) -> offers.OfferInput:
    """The service input from a submitted offer form."""
    return offers.OfferInput(
        title=form.get("title", ""), description=form.get("description", ""),
        category_ids=parse_ids(form.getlist("category_ids")), town_ids=parse_ids(form.getlist("town_ids")),
        slots_per_week=parse_int(form.get("slots_per_week")), windows=mask_from_form(form.getlist("windows")),
        valid_from=parse_date(form.get("valid_from")), valid_to=parse_date(form.get("valid_to")))


def offer_values(offer: ServiceOffer | None, provider: Provider) -> dict:
    """The form's starting values: the offer's, or sensible ones for a new offer (home town, weekdays)."""
    if offer is None:
        start = today()
        return {"title": "", "description": "", "category_ids": set(), "town_ids": {provider.town_id},
                "slots_per_week": "5", "windows": WEEKDAYS, "valid_from": start.isoformat(),
                "valid_to": date(start.year, 12, 31).isoformat()}
    return {"title": offer.title, "description": offer.description,
            "category_ids": {c.id for c in offer.categories}, "town_ids": {t.id for t in offer.towns},
            "slots_per_week": str(offer.slots_per_week), "windows": offer.windows,
            "valid_from": offer.valid_from.isoformat(), "valid_to": offer.valid_to.isoformat()}


def submitted_values(form) -> dict:
    """The submitted values, to show again beside the errors."""
    return {"title": form.get("title", ""), "description": form.get("description", ""),
            "category_ids": set(parse_ids(form.getlist("category_ids"))),
            "town_ids": set(parse_ids(form.getlist("town_ids"))), "slots_per_week": form.get("slots_per_week", ""),
            "windows": mask_from_form(form.getlist("windows")), "valid_from": form.get("valid_from", ""),
            "valid_to": form.get("valid_to", "")}


def get_offer_or_404(offer_id: int, user: User) -> ServiceOffer:
    """One of the user's organisation's offers, else 404."""
    offer = offers.get_offer(offer_id, user)
    if offer is None:
        abort(404)
    return offer


def _render_form(provider: Provider, offer: ServiceOffer | None, values: dict, errors: dict, status: int = 200):
    towns = reference.towns()
    return render_template("provider/offer_form.html", portal=portal(), offer=offer, values=values,
                           errors=errors, towns=towns,
                           categories=offers.qualified_categories(provider, today())), status


def offer_list():
    """The organisation's capacity offers, newest first, filterable by status."""
    status = request.args.get("status")
    chosen = OfferStatus(status) if status in OfferStatus.__members__ else None
    page = paginated(offers.offers_query(current_user.provider_id, chosen))
    return render_template("provider/offers.html", portal=portal(), page=page, status=chosen, today=today(),
                           can_edit=is_admin(), window_count=lambda m: bin(m).count("1"))


def offer_new():
    """Publish a new capacity offer."""
    require_admin()
    provider = own_provider()
    if request.method == "GET":
        return _render_form(provider, None, offer_values(None, provider), {})
    data = offer_input(request.form)
    try:
        offer = run_in_transaction(lambda: offers.publish(provider, data, current_user, today()))
    except offers.OfferInvalid as e:
        return _render_form(provider, None, submitted_values(request.form), e.errors, 400)
    flash(_("The offer \u201c%(title)s\u201d was published.", title=offer.title), "success")
    return redirect(url_for(f"{portal()}.offers"), 303)


def offer_edit(offer_id: int):
    """Change an offer's categories, towns, capacity, windows or dates."""
    require_admin()
    offer = get_offer_or_404(offer_id, current_user)
    provider = offer.provider
    if request.method == "GET":
        return _render_form(provider, offer, offer_values(offer, provider), {})
    data = offer_input(request.form)
    try:
        run_in_transaction(lambda: offers.update(offer, data, current_user, today()))
    except offers.OfferInvalid as e:
        db.session.expire_all()
        return _render_form(provider, get_offer_or_404(offer_id, current_user), submitted_values(request.form),
                            e.errors, 400)
    flash(_("The offer was saved."), "success")
    return redirect(url_for(f"{portal()}.offers"), 303)


def _change_status(offer_id: int, work, success: str):
    require_admin()
    offer = get_offer_or_404(offer_id, current_user)
    try:
        run_in_transaction(lambda: work(offer))
    except ServiceError as e:
        flash(e.message, "danger")
    else:
        flash(success, "success")
    return redirect(url_for(f"{portal()}.offers", **({"page": request.args.get("page", type=int)}
                                                        if request.args.get("page", type=int) else {})), 303)


def offer_pause(offer_id: int):
    """Pause an offer: no new work is matched to it."""
    return _change_status(offer_id, lambda o: offers.pause(o, current_user),
                          _("The offer was paused. No new work will be matched to it."))


def offer_resume(offer_id: int):
    """Resume a paused offer."""
    return _change_status(offer_id, lambda o: offers.resume(o, current_user, today()),
                          _("The offer is active again."))
