"""Volunteer views: tasks ranked for me with reasons, time, place, places left and what to bring; a task's page;
sign up, withdraw; the waitlist of a full task (join, leave, confirm an offered place); my tasks."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm

from socialforce.platform.extensions import db
from socialforce.platform.models import ServiceItem, Volunteer, VolunteerTask, utcnow
from socialforce.platform.services import (
    ServiceError,
    dispatch,
    matching,
    volunteer_tasks,
    volunteers,
    waitlist,
)
from socialforce.platform.transactions import run_in_transaction
from socialforce.portals.page_helpers import paginated
from socialforce.portals.volunteer.forms import WithdrawForm


def _me() -> Volunteer:
    return volunteers.volunteer_of(current_user)


def tasks():
    """Open tasks ranked for the volunteer (reciprocal fit) with the reasons and their facts; full tasks they may
    wait for; their waitlist places and offers; my sign-ups, paginated."""
    me = _me()
    now = utcnow()
    ranked = matching.tasks_for_volunteer(me, k=20)
    task_of = volunteer_tasks.tasks_of_items([c.item_id for c in ranked])
    ranked = [c for c in ranked if c.item_id in task_of]
    full = volunteer_tasks.full_tasks_for(me, now)
    waiting = waitlist.open_entries(me)
    mine = paginated(volunteer_tasks.my_tasks(me))
    facts = volunteer_tasks.task_facts(
        [*task_of.values(), *full, *(e.task_id for e in waiting), *(t.id for t in mine.items)], now)
    return render_template("volunteer/tasks.html", me=me, ranked=ranked, task_of=task_of, full=full,
                           waiting=waiting, mine=mine, facts=facts, form=FlaskForm())


def task_page(task_id: int):
    """One task: when, where (village), places left, what to bring, and what I can do (sign up, wait, confirm)."""
    me = _me()
    now = utcnow()
    facts = volunteer_tasks.task_facts([task_id], now, seen_by=me).get(task_id) or abort(404)
    signed_up = dispatch.signed_up_task(task_id, me) is not None
    entry = waitlist.entry_of(task_id, me)
    fits = (facts.live and me.provider.status == "approved"
            and not matching.eligibility_problems(me, db.session.get(ServiceItem, facts.item_id), now))
    return render_template("volunteer/task.html", me=me, t=facts, signed_up=signed_up, entry=entry, fits=fits,
                           position=waitlist.position(entry) if entry is not None else 0, form=FlaskForm())


def _waitlist_action(task_id: int, action, done: str):
    """Run one waitlist service call for me in its own transaction; flash the outcome; back to the task's page."""
    if not FlaskForm().validate_on_submit():
        abort(400)
    db.session.get(VolunteerTask, task_id) or abort(404)
    me = _me()
    db.session.commit()  # end the read transaction before the atomic change
    try:
        run_in_transaction(lambda: action(task_id, me, current_user, utcnow()))
    except ServiceError as e:
        flash(e.message, "danger")
    else:
        flash(done, "success")
    return redirect(url_for("volunteer.task", task_id=task_id), 303)


def waitlist_join(task_id: int):
    """Join the waitlist of a full task."""
    return _waitlist_action(task_id, waitlist.join, _("You are on the waitlist. We will tell you when a place is "
                                                       "free for you."))


def waitlist_leave(task_id: int):
    """Leave the waitlist (an offered place is turned down and passes on)."""
    return _waitlist_action(task_id, waitlist.leave, _("You have left the waitlist."))


def waitlist_confirm(task_id: int):
    """Take the place offered to me from the waitlist."""
    return _waitlist_action(task_id, waitlist.confirm, _("The place is yours. Thank you!"))


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
