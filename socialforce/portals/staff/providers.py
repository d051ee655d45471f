"""Staff providers registry: agencies, pairing units and volunteers in scope; a provider's page; approve, suspend
(with a reason), turn down a volunteer's registration (with a reason the volunteer sees) and reinstate. Town staff see and act on their own town's providers only (others answer 404)."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm

from socialforce.platform import reference
from socialforce.platform.extensions import db
from socialforce.platform.i18n import select_locale
from socialforce.platform.localtime import today
from socialforce.platform.models import Household, MemberRole, ProviderKind, ProviderStatus, utcnow
from socialforce.platform.reference import QUALIFICATIONS
from socialforce.platform.scoping import household_filter
from socialforce.platform.services import ServiceError, hours, providers
from socialforce.platform.services.candidates import contract_hours_left
from socialforce.platform.transactions import run_in_transaction
from socialforce.portals import confirm
from socialforce.portals.forms import refuse
from socialforce.portals.page_helpers import paginated
from socialforce.portals.staff.forms import BackgroundCheckForm, ReasonForm

KIND_LABELS = {"agency": _l("Social-work agency"), "unit": _l("Pairing unit"), "volunteer": _l("Volunteer")}
STATUS_LABELS = {"pending": _l("Pending"), "approved": _l("Approved"), "suspended": _l("Suspended")}
UNIT_TYPES = {"department": _l("Government department"), "enterprise": _l("Enterprise"),
              "institution": _l("Public institution"), "group": _l("Social group"),
              "party": _l("Grassroots party organisation")}
CERTIFICATE_LEVELS = {"assistant": _l("Assistant social worker"), "social_worker": _l("Social worker"),
                      "senior": _l("Senior social worker")}


def _success(action: str, name: str, kind: ProviderKind) -> str:
    if action == "reject":
        return _("The registration of %(name)s was turned down; the volunteer is told and sees the reason.", name=name)
    if action == "approve":
        return _("%(name)s was approved.", name=name)
    if action == "suspend" and kind != ProviderKind.volunteer:
        return _("%(name)s was suspended; it will not be matched or dispatched to. Its orders not yet started were "
                 "cancelled and their items are open again; orders in service stay.", name=name)
    if action == "suspend":
        return _("%(name)s was suspended; it will not be matched or dispatched to.", name=name)
    return _("%(name)s was reinstated.", name=name)


def qualification_label(code: str) -> str:
    """A qualification code in the current language."""
    names = QUALIFICATIONS.get(code)
    if names is None:
        return code
    return names[0] if select_locale() == "zh_CN" else names[1]


def _labels() -> dict:
    return {"kind_labels": KIND_LABELS, "status_labels": STATUS_LABELS, "unit_types": UNIT_TYPES,
            "certificate_levels": CERTIFICATE_LEVELS, "qualification_label": qualification_label}


def _paginate(query: sa.Select, arg: str):
    return paginated(query, arg=arg)


def providers_list():
    """Agencies, pairing units and volunteers in scope, filtered by kind, status, town, name and certificates
    awaiting verification."""
    args = request.args
    city = current_user.town_id is None
    query = providers.search(current_user, args.get("kind"), args.get("status"),
                             args.get("town", type=int) if city else None, args.get("q"),
                             awaiting_verification=args.get("certificates") == "awaiting")
    page = paginated(query)
    towns = reference.scope_towns(current_user)
    return render_template("staff/providers/list.html", page=page, towns=towns,
                           counts=providers.status_counts(current_user),
                           awaiting=providers.awaiting_verification_count(current_user), kinds=list(ProviderKind),
                           statuses=list(ProviderStatus), **_labels())


def _provider_or_404(provider_id: int):
    provider = providers.get_in_scope(provider_id, current_user)
    if provider is None:
        abort(404)
    return provider


def _detail_context(provider) -> dict:
    day = utcnow().date()
    context: dict = {"provider": provider, "certs": providers.certificates(provider, day),
                     "last_change": providers.last_status_change(provider)}
    context["background_check"] = providers.background_check(context["certs"])
    if provider.kind == ProviderKind.volunteer and provider.volunteer is not None:
        context["skills"] = providers.skill_categories(provider.volunteer.skills)
        context["logins"] = providers.usernames(provider)
        context["hours"] = round(hours.confirmed_minutes(provider.volunteer.id) / 60, 1)
    elif provider.kind == ProviderKind.agency:
        context["workers"] = _paginate(providers.members(provider, MemberRole.social_worker), "page")
        context["contracts"] = _paginate(providers.contracts(provider), "cpage")
        context["hours_used"], context["hours_purchased"] = providers.contract_totals(provider, day)
        context["hours_left"] = contract_hours_left(provider.id, utcnow())
    elif provider.kind == ProviderKind.unit:
        context["cadres"] = _paginate(providers.members(provider, MemberRole.cadre), "cpage")
        context["pairings"] = _paginate(providers.pairings(provider), "page")
        context["pairing_counts"] = providers.pairing_counts(provider)
        visible = {p.household_id for p in context["pairings"].items}
        context["households_in_scope"] = set(db.session.scalars(
            sa.select(Household.id).where(Household.id.in_(visible), household_filter(current_user))))
    return context


def provider(provider_id: int):
    """One provider's registration, certificates and kind-specific details, with the status actions."""
    provider = _provider_or_404(provider_id)
    return render_template("staff/providers/detail.html", form=ReasonForm(), action_form=FlaskForm(),
                           check_form=BackgroundCheckForm(), **_detail_context(provider), **_labels())


def provider_background_check(provider_id: int):
    """Record or renew a volunteer's background check (needed before serving minors); audited."""
    provider = _provider_or_404(provider_id)
    form = BackgroundCheckForm()
    error = None
    if form.validate_on_submit():
        try:
            run_in_transaction(lambda: providers.record_background_check(
                provider.id, form.issued_on.data, form.expires_on.data, form.document_no.data, current_user,
                today(), request.remote_addr))
        except ServiceError as e:
            if e.status == 404:
                abort(404)
            refuse(form, e, default="expires_on")
            error = e.status
        else:
            flash(_("The background check of %(name)s was recorded.", name=provider.name), "success")
            return redirect(url_for("staff.provider", provider_id=provider.id), 303)
    return render_template("staff/providers/detail.html", form=ReasonForm(), action_form=FlaskForm(),
                           check_form=form, **_detail_context(provider), **_labels()), error or 400


def provider_certificate_verify(provider_id: int, qualification_id: int):
    """Verify a certificate the provider declared, after seeing the document; audited."""
    provider = _provider_or_404(provider_id)
    if not FlaskForm().validate_on_submit():
        abort(400)
    try:
        run_in_transaction(lambda: providers.verify_qualification(
            provider.id, qualification_id, current_user, today(), request.remote_addr))
    except ServiceError as e:
        if e.status == 404:
            abort(404)
        flash(e.message, "danger")
    else:
        flash(_("The certificate was verified; it now counts for matching."), "success")
    return redirect(url_for("staff.provider", provider_id=provider.id), 303)


def provider_action(provider_id: int, action: str):
    """Approve, suspend, turn down a volunteer's registration (both with a reason) or reinstate a provider; audited;
    refused cleanly if not possible."""
    if action not in providers.TRANSITIONS:
        abort(404)
    provider = _provider_or_404(provider_id)
    with_reason = action in providers.REASON_ACTIONS
    form = ReasonForm() if with_reason else FlaskForm()
    if not form.validate_on_submit():
        forms = {"form": form if action == "suspend" else ReasonForm()}
        if action == "reject":
            forms["reject_form"] = form
        return render_template("staff/providers/detail.html", action_form=FlaskForm(), check_form=BackgroundCheckForm(),
                               show_suspend=True, **forms, **_detail_context(provider), **_labels()), 400
    reason = form.reason.data if with_reason else None
    if action == "suspend" and not confirm.confirmed():
        return confirm.ask(_("Suspend %(name)s?", name=provider.name),
                           _("%(name)s is no longer matched or dispatched to until it is reinstated; its open orders "
                             "stay as they are.", name=provider.name),
                           _("Suspend"), url_for("staff.provider", provider_id=provider.id), danger=True)
    provider_id, name, kind = provider.id, provider.name, provider.kind
    db.session.commit()  # end the read transaction before the conditional update
    try:
        run_in_transaction(lambda: providers.change_status(provider_id, action, current_user, reason,
                                                           request.remote_addr))
    except ServiceError as e:
        if e.status == 404:
            abort(404)
        flash(e.message, "danger")
        return redirect(url_for("staff.provider", provider_id=provider_id), 303)
    flash(_success(action, name, kind), "success")
    return redirect(url_for("staff.provider", provider_id=provider_id), 303)
