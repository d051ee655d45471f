"""Staff pages for volunteers' service hours: records awaiting confirmation (filtered by town, service and dates;
one by one, ticked, or all matching after a "confirm N records for M people?" question) and the hours
certificates of their volunteers (find one by number, revoke it with a reason)."""
from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from socialforce.platform import reference
from socialforce.platform.extensions import db
from socialforce.platform.inputs import parse_date, parse_int
from socialforce.platform.models import HoursCertificate, ServiceRecord, utcnow
from socialforce.platform.row_loads import RECORD_ROW
from socialforce.platform.services import certificates, hours
from socialforce.platform.transactions import run_in_transaction
from socialforce.portals import confirm
from socialforce.portals.forms import do
from socialforce.portals.page_helpers import paginated

MAX_ID = 2**31  # ids are 32-bit integers on PostgreSQL


def record_filter(args) -> tuple[hours.RecordFilter, dict[str, str]]:
    """The filter from a query string or form, and a message per field that could not be read (that part ignored)."""
    errors: dict[str, str] = {}
    values: dict = {}
    for name, key in (("town_id", "town"), ("category_id", "category")):
        text = (args.get(key) or "").strip()
        number = parse_int(text)
        if text and (number is None or number <= 0):
            errors[key] = _("Choose one from the list.")
        elif text:
            values[name] = number
    for name, key in (("served_from", "from"), ("served_to", "to")):
        text = (args.get(key) or "").strip()
        day = parse_date(text)
        if text and day is None:
            errors[key] = _("Enter a date as YYYY-MM-DD between 1900 and 2199.")
        elif day:
            values[name] = day
    if values.get("served_from") and values.get("served_to") and values["served_from"] > values["served_to"]:
        errors["to"] = _("The end date is before the start date.")
        values.pop("served_to")
    if current_user.town_id is not None:
        values.pop("town_id", None)  # a town's own staff see their town only
    return hours.RecordFilter(**values), errors


def _filter_args(filters: hours.RecordFilter) -> dict[str, str]:
    return {k: v for k, v in (("town", filters.town_id), ("category", filters.category_id),
                              ("from", filters.served_from and filters.served_from.isoformat()),
                              ("to", filters.served_to and filters.served_to.isoformat())) if v}


def pending_hours():
    """Volunteers' service records awaiting confirmation in scope, filtered, with what confirming all would do."""
    filters, errors = record_filter(request.args)
    query = hours.pending_records(current_user).where(*filters.where()).options(*RECORD_ROW)
    page = paginated(query)
    return render_template("staff/visits/hours.html", page=page, filters=filters, errors=errors,
                           args=_filter_args(filters), summary=hours.bulk_summary(current_user, filters),
                           towns=reference.scope_towns(current_user), categories=reference.categories(
                               volunteer_task=True)), 400 if errors else 200


def confirm_record(record_id: int):
    """Confirm one service record so it counts towards the volunteer's hours (a flagged visit: once checked)."""
    record = db.session.scalar(hours.pending_records(current_user).where(ServiceRecord.id == record_id))
    if record is None:
        abort(404)
    do(lambda: hours.confirm_record(record, current_user, utcnow(), checked_flags=request.form.get("checked") == "1"),
       _("The service record was confirmed (%(minutes)s minutes).", minutes=record.minutes))
    return redirect(url_for("staff.hours", page=request.args.get("page", type=int)), 303)


def confirm_records():
    """Confirm the ticked records in one go; records of flagged visits are never confirmed in bulk."""
    ids = [i for i in request.form.getlist("record_id", type=int) if 0 < i < MAX_ID][:current_app.config["PAGE_SIZE"]]
    count = run_in_transaction(lambda: hours.confirm_records(current_user, ids, utcnow()))
    flash(_("%(count)s service records were confirmed.", count=count), "success" if count else "warning")
    return redirect(url_for("staff.hours", page=request.args.get("page", type=int)), 303)


def confirm_all():
    """GET: ask "confirm N records for M people?" for every unflagged record matching the filter; POST: do it, for
    the records counted when asking (none that arrived since)."""
    source = request.form if request.method == "POST" else request.args
    filters, errors = record_filter(source)
    if errors:
        for message in errors.values():
            flash(message, "danger")
        return redirect(url_for("staff.hours", **_filter_args(filters)), 303)
    if request.method == "POST":
        max_id = parse_int(request.form.get("max_id"))
        if max_id is None or max_id < 0:
            flash(_("The confirmation is out of date. Please look at the records again."), "danger")
            return redirect(url_for("staff.hours", **_filter_args(filters)), 303)
        count = run_in_transaction(lambda: hours.confirm_matching(current_user, filters, max_id, utcnow()))
        flash(_("%(count)s service records were confirmed.", count=count), "success" if count else "warning")
        return redirect(url_for("staff.hours", **_filter_args(filters)), 303)
    summary = hours.bulk_summary(current_user, filters)
    if not summary.records:
        flash(_("No records match these filters."), "info")
        return redirect(url_for("staff.hours", **_filter_args(filters)), 303)
    return render_template("staff/visits/confirm_all.html", summary=summary, args=_filter_args(filters))


def certificate_list():
    """Hours certificates of volunteers in scope, newest first; ?number= finds one."""
    number = certificates.normalise_number(request.args.get("number"))
    query = certificates.scoped_certificates(current_user)
    if number:
        query = query.where(HoursCertificate.number == number)
    page = paginated(query)
    return render_template("staff/visits/certificates.html", page=page, number=number)


def certificate_revoke():
    """Revoke a certificate with a reason: its number then verifies as revoked."""
    number = (request.form.get("number") or "")[:64]
    if not confirm.confirmed():
        shown = certificates.normalise_number(number)
        return confirm.ask(_("Revoke certificate %(number)s?", number=shown),
                           _("Certificate %(number)s then verifies as revoked for anyone who checks it; this cannot "
                             "be undone.", number=shown),
                           _("Revoke"), url_for("staff.certificates", number=shown), danger=True)
    do(lambda: certificates.revoke(current_user, number, request.form.get("reason", "")[:500], utcnow()),
       _("The certificate %(number)s was revoked.", number=certificates.normalise_number(number)))
    return redirect(url_for("staff.certificates", number=certificates.normalise_number(number)), 303)
