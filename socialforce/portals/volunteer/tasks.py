"""Volunteer views: tasks ranked for me with reasons, sign up, withdraw, my tasks."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from socialforce.platform.extensions import db
from socialforce.platform.models import Order, ServiceItem, TaskSignup, Volunteer, VolunteerTask
from socialforce.platform.services import ServiceError, dispatch, matching
from socialforce.platform.transactions import run_in_transaction
from socialforce.portals.volunteer.views import bp


def _me() -> Volunteer:
    return db.session.scalar(sa.select(Volunteer).where(Volunteer.provider_id == current_user.provider_id))


@bp.get("/tasks")
def tasks():
    """Open tasks ranked for the volunteer (reciprocal fit), with the reasons."""
    me = _me()
    ranked = matching.tasks_for_volunteer(me, k=20)
    items = {it.id: it for it in db.session.scalars(
        sa.select(ServiceItem).where(ServiceItem.id.in_([c.item_id for c in ranked])))}
    task_of = dict(db.session.execute(
        sa.select(Order.item_id, VolunteerTask.id).join(VolunteerTask, VolunteerTask.order_id == Order.id)
        .where(Order.item_id.in_(list(items)))).all())
    mine = db.session.scalars(
        sa.select(VolunteerTask).join(TaskSignup, TaskSignup.task_id == VolunteerTask.id)
        .where(TaskSignup.volunteer_id == me.id).order_by(VolunteerTask.id.desc())).all()
    return render_template("volunteer/tasks.html", me=me, ranked=ranked, items=items, task_of=task_of, mine=mine)


@bp.post("/tasks/<int:task_id>/signup")
def task_signup(task_id: int):
    """Sign up for one place of a task I am eligible for."""
    me = _me()
    task = db.session.get(VolunteerTask, task_id) or abort(404)
    problems = matching.eligibility_problems(me, task.order.item)
    if problems:
        flash(_("This task does not fit your skills, certificates, town or free time."), "danger")
        return redirect(url_for("volunteer.tasks"))
    db.session.commit()  # end the read transaction before the atomic sign-up
    try:
        run_in_transaction(lambda: dispatch.sign_up(task_id, me))
    except ServiceError as e:
        flash(e.message, "danger")
        return redirect(url_for("volunteer.tasks"))
    flash(_("You have signed up. Thank you!"), "success")
    return redirect(url_for("volunteer.tasks"))


@bp.post("/tasks/<int:task_id>/withdraw")
def task_withdraw(task_id: int):
    """Withdraw from a task, freeing the place."""
    me = _me()
    try:
        run_in_transaction(lambda: dispatch.withdraw(task_id, me))
    except ServiceError as e:
        flash(e.message, "danger")
        return redirect(url_for("volunteer.tasks"))
    flash(_("You have withdrawn; the place is free for others."), "info")
    return redirect(url_for("volunteer.tasks"))
