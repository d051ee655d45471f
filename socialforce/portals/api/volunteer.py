"""The volunteer's resources of /api/v1 beyond the task list and sign-up (views.py): profile and availability,
the waitlist of a full task, my visits with check-in/out, my hours and certificates. Each view names its scope,
reaches only the caller's own volunteer record and calls the same services as the volunteer portal."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort
from marshmallow import RAISE

from socialforce.platform import weekmask
from socialforce.platform.extensions import db
from socialforce.platform.models import HoursCertificate, Order, User, Volunteer, VolunteerTask, utcnow
from socialforce.platform.services import ServiceError, dispatch, hours, visits, volunteers, waitlist
from socialforce.platform.transactions import run_in_transaction
from socialforce.portals.api import schemas as s
from socialforce.portals.api.auth import require
from socialforce.portals.api.idempotency import HEADER_DOC, idempotent
from socialforce.portals.api.paging import page_of
from socialforce.portals.api.problems import problem
from socialforce.portals.api.views import ERRORS, WRITE_ERRORS, _errors, _service_problem, bp
from socialforce.portals.api.visits import change, check, visit_answer, visit_page
from socialforce.portals.page_helpers import bilingual
from socialforce.portals.routing import GET, POST


def _me(scope: str) -> tuple[User, Volunteer]:
    user = require(scope)
    volunteer = volunteers.volunteer_of(user)
    if volunteer is None:
        abort(404)
    return user, volunteer


def _profile(v: Volunteer) -> dict:
    return {"volunteer_id": v.id, "name": v.real_name, "phone_masked": v.phone_masked,
            "town": bilingual(v.provider.town), "status": str(v.provider.status), "skills": v.skills.split(),
            "availability": v.availability, "availability_cells": [list(c) for c in weekmask.cells(v.availability)],
            "certifications": [{"id": q.id, "code": q.code, "expires_on": q.expires_on,
                                "verified": q.verified_at is not None} for q in volunteers.certifications(v)]}


@bp.response(200, s.VolunteerProfile)
@_errors(*ERRORS)
def profile():
    """My profile: skills, certifications, home town, masked phone and weekly availability."""
    return _profile(_me("volunteer:read")[1])


@idempotent
@bp.doc(parameters=[HEADER_DOC])
@bp.arguments(s.AvailabilityBody)
@bp.response(200, s.VolunteerProfile)
@_errors(*WRITE_ERRORS)
def availability_save(body: dict):
    """Set my weekly availability (the offer the tasks are ranked against follows it)."""
    user, me = _me("volunteer:write")
    try:
        run_in_transaction(lambda: volunteers.update_availability(me, body["availability"], user))
    except ServiceError as e:
        return _service_problem(e)
    return _profile(db.session.get(Volunteer, me.id, populate_existing=True))


def _profile_change(work) -> tuple:
    """Run a profile change of mine in one transaction; my profile as it now is, or the service's refusal."""
    user, me = _me("volunteer:write")
    db.session.commit()  # end the read transaction before the change
    try:
        run_in_transaction(lambda: work(me, user))
    except ServiceError as e:  # a conflict stays a 409 (with its field's path); other field refusals are 422
        if e.status == 409 and e.field:
            return problem(409, e.message, [{"path": f"json/{e.field}", "message": e.message}])
        return _service_problem(e)
    return _profile(db.session.get(Volunteer, me.id, populate_existing=True))


@idempotent
@bp.doc(parameters=[HEADER_DOC])
@bp.arguments(s.SkillsBody)
@bp.response(200, s.VolunteerProfile)
@_errors(*WRITE_ERRORS)
def skills_save(body: dict):
    """Replace my skills (codes from the profile page's list; home town and phone stay as they are)."""
    return _profile_change(lambda me, user: volunteers.update_profile(
        me, volunteers.ProfileChange(skills=tuple(body["skills"]), town_id=me.provider.town_id), user))


@idempotent
@bp.doc(parameters=[HEADER_DOC])
@bp.arguments(s.CertificationBody)
@bp.response(200, s.VolunteerProfile)
@_errors(*WRITE_ERRORS)
def certification_add(body: dict):
    """Add a certification I hold (it counts once staff of my town have verified it); one per code."""
    cert = volunteers.CertificationInput(**body)
    return _profile_change(lambda me, user: volunteers.add_certification(me, cert, user, utcnow().date()))


@idempotent
@bp.doc(parameters=[HEADER_DOC])
@bp.arguments(s.CertificationRemoveBody)
@bp.response(200, s.VolunteerProfile)
@_errors(*WRITE_ERRORS)
def certification_remove(body: dict):
    """Remove one of my certifications (never the background check, which staff record)."""
    return _profile_change(lambda me, user: volunteers.remove_certification(me, body["qualification_id"], user))


def _waitlist_result(task_id: int, me: Volunteer) -> dict:
    entry = waitlist.entry_of(task_id, me)
    return {"task_id": task_id, "waitlist_state": str(entry.state) if entry else None,
            "position": (waitlist.position(entry) or None) if entry else None,  # None unless waiting
            "offer_expires_at": entry.offer_expires_at if entry else None,
            "signed_up": dispatch.signed_up_task(task_id, me) is not None}


def _waitlist(task_id: int, action):
    user, me = _me("volunteer:write")
    db.session.get(VolunteerTask, task_id) or abort(404)
    db.session.commit()  # end the read transaction before the atomic change
    try:
        run_in_transaction(lambda: action(task_id, me, user, utcnow()))
    except ServiceError as e:
        return _service_problem(e)
    return _waitlist_result(task_id, me)


@idempotent
@bp.doc(parameters=[HEADER_DOC])
@bp.response(200, s.WaitlistResult)
@_errors(*WRITE_ERRORS)
def waitlist_join(task_id: int):
    """Join the waitlist of a full task."""
    return _waitlist(task_id, waitlist.join)


@idempotent
@bp.doc(parameters=[HEADER_DOC])
@bp.response(200, s.WaitlistResult)
@_errors(*WRITE_ERRORS)
def waitlist_leave(task_id: int):
    """Leave the waitlist (an offered place is turned down and passes on)."""
    return _waitlist(task_id, waitlist.leave)


@idempotent
@bp.doc(parameters=[HEADER_DOC])
@bp.response(200, s.WaitlistResult)
@_errors(*WRITE_ERRORS)
def waitlist_confirm(task_id: int):
    """Take the place offered to me from the waitlist."""
    return _waitlist(task_id, waitlist.confirm)


@bp.arguments(s.VisitQuery, location="query", unknown=RAISE)
@bp.response(200, s.VisitPage)
@_errors(*ERRORS)
def visit_list(args: dict):
    """My visits, soonest first, by status and order."""
    user, _me_ = _me("volunteer:read")
    return visit_page(user, args)


@idempotent
@bp.doc(parameters=[HEADER_DOC])
@bp.arguments(s.Position, required=False)
@bp.response(200, s.Visit)
@_errors(*WRITE_ERRORS)
def visit_checkin(body: dict, visit_id: int):
    """Check in to my visit (from an hour before it starts), with my position if I give it."""
    return check(_me("volunteer:write")[0], visit_id, "checkin", body)


@idempotent
@bp.doc(parameters=[HEADER_DOC])
@bp.arguments(s.CheckOutBody, required=False)
@bp.response(200, s.Visit)
@_errors(*WRITE_ERRORS)
def visit_checkout(body: dict, visit_id: int):
    """Check out of my visit (an unconfirmed service record is made), with my position and notes."""
    return check(_me("volunteer:write")[0], visit_id, "checkout", body)


@idempotent
@bp.doc(parameters=[HEADER_DOC])
@bp.arguments(s.PlanBody)
@bp.response(201, s.Visit)
@_errors(*WRITE_ERRORS)
def visit_plan(body: dict, order_id: int):
    """Plan my visit (or a series) for a task I signed up for; refuses past times and double-booking."""
    user, me = _me("volunteer:write")
    order = db.session.get(Order, order_id)
    if order is None or order.provider_id is not None:  # an agency's or unit's order, never a volunteer task
        abort(404)
    try:
        assignee = visits.order_assignee(order, me)
    except ServiceError:
        abort(404)
    try:
        visit_id = run_in_transaction(lambda: visits.plan_visit(
            order, assignee, body["starts_at"], body["duration"], user, utcnow(),
            repeat=body["repeat"], count=body["count"]).id)
    except ServiceError as e:
        return _service_problem(e)
    return visit_answer(visit_id, user), 201


def _record_row(r) -> dict:
    return {"id": r.id, "served_on": r.served_on, "minutes": r.minutes, "content": r.content,
            "confirmed": r.confirmed_at is not None}


@bp.arguments(s.PageQuery, location="query", unknown=RAISE)
@bp.response(200, s.Hours)
@_errors(*ERRORS)
def hours_summary(args: dict):
    """My confirmed hours, star level, service records (paged) and hours certificates."""
    _user, me = _me("volunteer:read")
    minutes = hours.confirmed_minutes(me.id)
    level = hours.star_level(minutes)
    certificates = db.session.scalars(sa.select(HoursCertificate).where(HoursCertificate.volunteer_id == me.id)
                                      .order_by(HoursCertificate.id.desc()))
    return {**page_of(hours.records_of(me.id), args["page"], _record_row), "confirmed_minutes": minutes,
            "imported_hours": me.imported_hours, "stars": level.stars, "next_stars_at_hours": level.next_hours,
            "certificates": [{"number": c.number, "hours": round(c.total_minutes / 60, 1),
                              "period_from": c.period_from, "period_to": c.period_to,
                              "revoked": c.revoked_at is not None} for c in certificates]}


@idempotent
@bp.doc(parameters=[HEADER_DOC])
@bp.arguments(s.NotesBody)
@bp.response(200, s.Visit)
@_errors(*WRITE_ERRORS)
def visit_notes(body: dict, visit_id: int):
    """Replace the notes of my visit."""
    return change(_me("volunteer:write")[0], visit_id, "notes", body)


@idempotent
@bp.doc(parameters=[HEADER_DOC])
@bp.arguments(s.RescheduleBody)
@bp.response(200, s.Visit)
@_errors(*WRITE_ERRORS)
def visit_reschedule(body: dict, visit_id: int):
    """Move a planned visit of mine to a later time, with a reason; refuses past times and double-booking."""
    return change(_me("volunteer:write")[0], visit_id, "reschedule", body)


@idempotent
@bp.doc(parameters=[HEADER_DOC])
@bp.arguments(s.VisitCancelBody)
@bp.response(200, s.Visit)
@_errors(*WRITE_ERRORS)
def visit_cancel(body: dict, visit_id: int):
    """Cancel a planned visit of mine with a reason (with `following`, the rest of its series too)."""
    return change(_me("volunteer:write")[0], visit_id, "cancel", body)


ROUTES = [  # (rule, endpoint, view, methods)
    ("/volunteer/profile", "volunteer_profile", profile, GET),
    ("/volunteer/profile/availability", "volunteer_availability", availability_save, POST),
    ("/volunteer/profile/skills", "volunteer_skills", skills_save, POST),
    ("/volunteer/profile/certifications", "volunteer_certification_add", certification_add, POST),
    ("/volunteer/profile/certifications/remove", "volunteer_certification_remove", certification_remove, POST),
    ("/volunteer/orders/<int:order_id>/visits", "volunteer_visit_plan", visit_plan, POST),
    ("/volunteer/tasks/<int:task_id>/waitlist", "volunteer_waitlist_join", waitlist_join, POST),
    ("/volunteer/tasks/<int:task_id>/waitlist/leave", "volunteer_waitlist_leave", waitlist_leave, POST),
    ("/volunteer/tasks/<int:task_id>/waitlist/confirm", "volunteer_waitlist_confirm", waitlist_confirm, POST),
    ("/volunteer/visits", "volunteer_visits", visit_list, GET),
    ("/volunteer/visits/<int:visit_id>/checkin", "volunteer_visit_checkin", visit_checkin, POST),
    ("/volunteer/visits/<int:visit_id>/checkout", "volunteer_visit_checkout", visit_checkout, POST),
    ("/volunteer/visits/<int:visit_id>/notes", "volunteer_visit_notes", visit_notes, POST),
    ("/volunteer/visits/<int:visit_id>/reschedule", "volunteer_visit_reschedule", visit_reschedule, POST),
    ("/volunteer/visits/<int:visit_id>/cancel", "volunteer_visit_cancel", visit_cancel, POST),
    ("/volunteer/hours", "volunteer_hours", hours_summary, GET),
]
