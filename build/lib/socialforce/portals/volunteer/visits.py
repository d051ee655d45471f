"""Volunteer visit pages: my week, planning a visit for a task I signed up for, the visit's phone page, my
service hours and star level, the hours certificate (printable page and PDF), .ics files of a visit or task."""
from __future__ import annotations

import base64

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from socialforce.platform import links, pdf
from socialforce.platform.extensions import db
from socialforce.platform.models import Order, TaskSignup, Visit, Volunteer, VolunteerTask, utcnow
from socialforce.platform.models.orders import LIVE_STATES
from socialforce.platform.services import ServiceError, calendars, certificates, hours, visits, volunteers
from socialforce.platform.transactions import run_in_transaction
from socialforce.portals.downloads import send
from socialforce.portals.forms import PlanForm
from socialforce.portals.page_helpers import paginated
from socialforce.portals.public.calendar import visit_file
from socialforce.portals.visits import (
    calendar_context,
    parse_week,
    plan_from_form,
    proposals,
    visit_or_404,
    visit_page_context,
    visit_response,
)


def _volunteer() -> Volunteer:
    volunteer = volunteers.volunteer_of(current_user)
    if volunteer is None:
        abort(404)
    return volunteer


def calendar():
    """My visits this week and the tasks I signed up for that still need a visit planned."""
    volunteer = _volunteer()
    tasks = db.session.scalars(
        sa.select(Order).join(VolunteerTask, VolunteerTask.order_id == Order.id)
        .join(TaskSignup, TaskSignup.task_id == VolunteerTask.id)
        .where(TaskSignup.volunteer_id == volunteer.id, Order.state.in_(LIVE_STATES))
        .order_by(Order.id.desc()).limit(50)).all()
    timed = set(db.session.scalars(sa.select(VolunteerTask.order_id).where(
        VolunteerTask.order_id.in_([o.id for o in tasks]), VolunteerTask.starts_at.is_not(None))))
    context = calendar_context(visits.Assignee(volunteer_id=volunteer.id), parse_week(request.args.get("week")))
    return render_template("volunteer/visits/calendar.html", tasks=tasks, timed=timed, **context)


def plan(order_id: int):
    """Plan my visit for a task I signed up for: the earliest free times, or another time."""
    volunteer = _volunteer()
    order = db.get_or_404(Order, order_id)
    if order.provider_id is not None:  # an agency's or unit's order, never a volunteer task
        abort(404)
    try:
        assignee = visits.order_assignee(order, volunteer)
    except ServiceError:
        abort(404)
    failed = None
    if request.method == "POST":
        failed = plan_from_form(order, assignee, current_user)
        if failed is None:
            return redirect(url_for("volunteer.calendar"), 303)
    mine = db.session.scalars(sa.select(Visit).where(Visit.order_id == order.id, Visit.volunteer_id == volunteer.id)
                              .order_by(Visit.starts_at)).all()
    return render_template("volunteer/visits/plan.html", order=order, form=failed or PlanForm(), visit_list=mine,
                           proposals=proposals(order, assignee)), 400 if failed else 200


def visit_page(visit_id: int):
    """The phone page of one of my visits (no household address or ID)."""
    return render_template("visits/visit.html", portal="volunteer",
                           **visit_page_context(visit_or_404(visit_id), current_user))


def visit_ics(visit_id: int):
    """One of my visits as an .ics file for my calendar app."""
    return visit_file(visit_or_404(visit_id))


def task_ics(order_id: int):
    """A task I signed up for (with a start time) as an .ics file."""
    task = calendars.signed_up_task(current_user, order_id)
    if task is None:
        abort(404)
    return send("task_ics", calendars.task_file(task, current_user, utcnow()), f"task-{order_id}.ics",
                order_id=order_id)


def visit_action_post(visit_id: int, action: str):
    """Check in, check out, notes, reschedule or cancel one of my visits."""
    return visit_response(visit_or_404(visit_id), action, current_user, portal="volunteer")


def hours_page():
    """My service records (confirmed ones count), the total of confirmed hours and my star level."""
    volunteer = _volunteer()
    page = paginated(hours.records_of(volunteer.id))
    minutes = hours.confirmed_minutes(volunteer.id)
    return render_template("volunteer/visits/hours.html", page=page, confirmed_minutes=minutes,
                           level=hours.star_level(minutes), star_hours=hours.STAR_HOURS,
                           imported_hours=volunteer.imported_hours)


def verify_url(number: str) -> str:
    """The public verification address of a certificate number (PUBLIC_BASE_URL if set, else this host)."""
    return links.absolute(url_for("public.verify", number=number))


def _issued() -> certificates.Certificate | None:
    volunteer = _volunteer()
    return run_in_transaction(lambda: certificates.issue(volunteer, current_user, utcnow()))


def _certificate_html(cert: certificates.Certificate, for_pdf: bool) -> str:
    url = verify_url(cert.number)
    qr = "data:image/png;base64," + base64.b64encode(certificates.qr_png(url)).decode()
    return render_template("volunteer/visits/certificate.html", cert=cert, verify_url=url, qr=qr, for_pdf=for_pdf,
                           pdf_available=pdf.available())


def certificate():
    """A print-ready certificate of my confirmed service hours, with its number and QR code."""
    cert = _issued()
    if cert is None:
        flash(_("A certificate lists confirmed service records; you have none yet."), "info")
        return redirect(url_for("volunteer.hours"))
    return _certificate_html(cert, for_pdf=False)


def certificate_pdf():
    """The certificate as a PDF (Chinese fonts embedded), downloaded and audited like every file."""
    cert = _issued()
    if cert is None:
        flash(_("A certificate lists confirmed service records; you have none yet."), "info")
        return redirect(url_for("volunteer.hours"))
    try:
        data = pdf.html_to_pdf(_certificate_html(cert, for_pdf=True))
    except pdf.PdfUnavailable:
        flash(_("PDF files cannot be made on this server. Print this page or save it as PDF from your browser."),
              "warning")
        return redirect(url_for("volunteer.certificate"))
    return send("hours_certificate", data, f"hours-certificate-{cert.number}.pdf", number=cert.number)
