"""Volunteer views: tasks ranked for me with reasons, sign up, withdraw, my tasks."""
from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from socialforce.platform.extensions import db
from socialforce.platform.models import Volunteer, VolunteerTask, utcnow
from socialforce.platform.services import ServiceError, dispatch, volunteer_tasks, volunteers
from socialforce.platform.transactions import run_in_transaction
from socialforce.portals.volunteer.forms import WithdrawForm


def _me() -> Volunteer:
    return volunteers.volunteer_of(current_user)


def tasks():
    """Open tasks ranked for the volunteer (reciprocal fit), with the reasons; my sign-ups, paginated."""
    me = _me()
    offered = volunteer_tasks.ranked_tasks(me, k=20)
    ranked = [r.candidate for r in offered]
    items = {r.item.id: r.item for r in offered}
    task_of = {r.item.id: r.task.id for r in offered}
    mine = db.paginate(volunteer_tasks.my_tasks(me), per_page=current_app.config["PAGE_SIZE"], error_out=False)
    return render_template("volunteer/tasks.html", me=me, ranked=ranked, items=items, task_of=task_of, mine=mine)


def task_signup(task_id: int):
    """Sign up for one place of a task I am eligible for."""
    me = _me()
    db.session.get(VolunteerTask, task_id) or abort(404)
    db.session.commit()  # end the read transaction before the atomic sign-up
    try:
        run_in_transaction(lambda: volunteer_tasks.sign_up_if_fitting(task_id, me))
    except ServiceError as e:
        flash(e.message, "danger")
        return redirect(url_for("volunteer.tasks"))
    flash(_("You have signed up. Thank you!"), "success")
    return redirect(url_for("volunteer.tasks"))


def task_withdraw(task_id: int):
    """Confirm and withdraw from a task (after acceptance with a reason; see dispatch.withdrawal_terms)."""
    me = _me()
    task = dispatch.signed_up_task(task_id, me)
    if task is None:
        flash(_("You are not signed up for this task."), "danger")
        return redirect(url_for("volunteer.tasks"))
    form = WithdrawForm()
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            db.session.commit()  # end the read transaction before the atomic withdrawal
            try:
                run_in_transaction(lambda: dispatch.withdraw(task_id, me, current_user, form.reason.data or "",
                                                             utcnow()))
            except ServiceError as e:
                flash(e.message, "danger")
            else:
                flash(_("You have withdrawn; the place is free for others."), "info")
                return redirect(url_for("volunteer.tasks"), 303)
        else:
            flash(_("The reason is limited to 200 characters."), "danger")
        status = 400
        task = dispatch.signed_up_task(task_id, me) or abort(404)
    terms = dispatch.withdrawal_terms(task, me, utcnow())
    return render_template("volunteer/withdraw.html", task=task, terms=terms, form=form), status
