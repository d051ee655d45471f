"""The volunteer's profile: skills, certifications (the background check is shown, not edited), home town,
phone (masked) and the weekly availability grid."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from socialforce.platform import reference
from socialforce.platform.i18n import select_locale
from socialforce.platform.models import Volunteer, utcnow
from socialforce.platform.reference import QUALIFICATIONS
from socialforce.platform.services import ServiceError, volunteers
from socialforce.platform.transactions import run_in_transaction
from socialforce.portals.page_helpers import bilingual, mask_from_form
from socialforce.portals.volunteer.forms import CertificationForm, ProfileForm


def _volunteer() -> Volunteer:
    volunteer = volunteers.volunteer_of(current_user)
    if volunteer is None:
        abort(404)
    return volunteer


def qualification_label(code: str) -> str:
    """A qualification code's name in the current language."""
    zh, en = QUALIFICATIONS.get(code, (code, code))
    return zh if select_locale() == "zh_CN" else en


def _profile_form(volunteer: Volunteer, formdata=None) -> ProfileForm:
    form = ProfileForm(formdata=formdata, skills=volunteer.skills.split(), town_id=volunteer.provider.town_id)
    form.skills.choices = [(c.code, bilingual(c)) for c in volunteers.skill_choices(volunteer)]
    form.town_id.choices = [(t.id, bilingual(t)) for t in reference.home_towns(volunteer.provider)]
    return form


def _certification_form(formdata=None) -> CertificationForm:
    form = CertificationForm(formdata=formdata)
    form.code.choices = [("", "—")] + [(c, qualification_label(c)) for c in volunteers.certification_codes()]
    return form


def _render(volunteer: Volunteer, status: int = 200, profile_form: ProfileForm | None = None,
            cert_form: CertificationForm | None = None, mask: int | None = None, grid_errors: tuple = ()):
    return render_template(
        "volunteer/profile.html", volunteer=volunteer,
        profile_form=profile_form or _profile_form(volunteer, formdata=None),
        cert_form=cert_form or _certification_form(formdata=None),
        certifications=volunteers.certifications(volunteer),
        check=volunteers.background_check(volunteer, utcnow().date()), today=utcnow().date(),
        mask=volunteer.availability if mask is None else mask, grid_errors=grid_errors,
        qualification_label=qualification_label), status


def _fail(form, error: ServiceError) -> None:
    field = getattr(form, error.field, None) if error.field else None
    if field is not None:
        field.errors = [*field.errors, error.message]
    else:
        flash(error.message, "danger")


def profile():
    """My profile: skills, certifications, background-check status, home town, phone and free time."""
    return _render(_volunteer())


def profile_save():
    """Save skills, home town and (if given) a new phone number."""
    volunteer = _volunteer()
    form = _profile_form(volunteer, formdata=request.form)
    if not form.validate():
        return _render(volunteer, 400, profile_form=form)
    change = volunteers.ProfileChange(skills=tuple(form.skills.data or ()), town_id=form.town_id.data,
                                      phone=form.phone.data or "")
    try:
        changed = run_in_transaction(lambda: volunteers.update_profile(volunteer, change, current_user))
    except ServiceError as e:
        _fail(form, e)
        return _render(_volunteer(), e.status, profile_form=form)
    flash(_("Your profile is saved.") if changed else _("Nothing changed."), "success" if changed else "info")
    return redirect(url_for("volunteer.profile"), 303)


def availability_save():
    """Save the weekly free-time grid (the checked cells)."""
    volunteer = _volunteer()
    values = request.form.getlist("availability")
    if any(not v.isdigit() or int(v) > 20 for v in values):
        return _render(volunteer, 400, grid_errors=(_("Unknown time window."),))
    mask = mask_from_form(values)
    try:
        changed = run_in_transaction(lambda: volunteers.update_availability(volunteer, mask, current_user))
    except ServiceError as e:
        return _render(_volunteer(), e.status, grid_errors=(e.message,))
    if not changed:
        flash(_("Nothing changed."), "info")
    elif mask:
        flash(_("Your free time is saved."), "success")
    else:
        flash(_("Your free time is saved. With no free time marked you will not see tasks."), "warning")
    return redirect(url_for("volunteer.profile") + "#availability", 303)


def certification_add():
    """Add a certification I hold."""
    volunteer = _volunteer()
    form = _certification_form(formdata=request.form)
    if not form.validate():
        return _render(volunteer, 400, cert_form=form)
    cert = volunteers.CertificationInput(code=form.code.data, document_no=form.document_no.data,
                                         issued_on=form.issued_on.data, expires_on=form.expires_on.data)
    try:
        run_in_transaction(lambda: volunteers.add_certification(volunteer, cert, current_user, utcnow().date()))
    except ServiceError as e:
        _fail(form, e)
        return _render(_volunteer(), e.status, cert_form=form)
    flash(_("The certification is added. It counts once staff of your town have verified the document."), "success")
    return redirect(url_for("volunteer.profile") + "#certifications", 303)


def certification_remove():
    """Remove one of my certifications (not the background check)."""
    volunteer = _volunteer()
    try:
        qualification_id = request.form.get("qualification_id", type=int) or 0
        run_in_transaction(lambda: volunteers.remove_certification(volunteer, qualification_id, current_user))
    except ServiceError as e:
        flash(e.message, "danger")
        return redirect(url_for("volunteer.profile") + "#certifications", 303)
    flash(_("The certification is removed."), "info")
    return redirect(url_for("volunteer.profile") + "#certifications", 303)
