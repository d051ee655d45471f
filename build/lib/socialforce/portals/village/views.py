"""Village-assistant views: the village's households (masked, no reveal), recording a need found on a round as a
draft for town staff, the drafts and their review, and the village's follow-up queue (满意度回访)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import RadioField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from socialforce.platform import reference
from socialforce.platform.auth import PORTAL_ROLES, guard
from socialforce.platform.labels import FEEDBACK_CHANNEL
from socialforce.platform.models import FeedbackChannel, Priority, utcnow
from socialforce.platform.scoping import get_household_or_404, get_order_or_404
from socialforce.platform.services import ServiceError, feedback, village
from socialforce.platform.services.provider_profiles import mask_name
from socialforce.platform.transactions import run_in_transaction
from socialforce.portals.forms import RATING_CHOICES, do, form_errors
from socialforce.portals.page_helpers import paginated

bp = Blueprint("village", __name__, template_folder="templates")
guard(bp, PORTAL_ROLES["village"])

SATISFACTION_MISSING = _l("Choose the household's satisfaction, from 1 to 5.")
ASSISTANT_CHANNELS = (FeedbackChannel.assistant_visit,)


class VillageFeedbackForm(FlaskForm):
    satisfaction = RadioField(_l("The household's satisfaction (1 very dissatisfied .. 5 very satisfied)"),
                              coerce=int, choices=RATING_CHOICES, invalid_choice_message=SATISFACTION_MISSING,
                              validators=[InputRequired(SATISFACTION_MISSING)])
    comment = TextAreaField(_l("What the household said"),
                            validators=[Optional(), Length(max=feedback.COMMENT_LENGTH)])


def home():
    """The village's households, each with its open items and recent orders, a page at a time."""
    page = paginated(village.village_households(current_user))
    return render_template("village/home.html", page=page, rows=village.household_rows(list(page.items)), mask=mask_name,
                           village_name=current_user.village.name if current_user.village else "")


def _household_page(household, values: dict, errors: dict, status: int = 200):
    row = village.household_rows([household])[0]
    return render_template("village/household.html", row=row, values=values, errors=errors,
                           categories=reference.categories(), mask=mask_name, priorities=list(Priority)), status


def household(household_id: int):
    """One household: open items, recent orders, and the form to record a need found on a round."""
    return _household_page(get_household_or_404(household_id, current_user), {"priority": "normal"}, {})


def submit_need(household_id: int):
    """Record a need as a draft service item for the town's staff to approve or return."""
    target = get_household_or_404(household_id, current_user)
    data = village.DraftInput(category_id=request.form.get("category_id", type=int),
                              description=request.form.get("description", ""),
                              priority=request.form.get("priority", "normal"))
    try:
        run_in_transaction(lambda: village.submit_draft(target, data, current_user))
    except ServiceError as e:
        values = {key: request.form.get(key, "") for key in ("category_id", "description", "priority")}
        return _household_page(target, values, {e.field or "description": e.message}, e.status)
    flash(_("The need was sent to the town's staff for review."), "success")
    return redirect(url_for("village.drafts"), 303)


def drafts():
    """The village's recorded needs: awaiting review, approved, or returned with the staff's reason."""
    page = paginated(village.my_drafts(current_user))
    return render_template("village/drafts.html", page=page)


def follow_ups():
    """The village's completed orders whose household has not been asked about its satisfaction yet."""
    page = paginated(feedback.awaiting_feedback(current_user))
    return render_template("village/follow_ups.html", page=page, form=VillageFeedbackForm(),
                           channel_label=FEEDBACK_CHANNEL[ASSISTANT_CHANNELS[0].value])


def record_follow_up(order_id: int):
    """Record the household's satisfaction with a completed order of the village (one per order)."""
    order = get_order_or_404(order_id, current_user)
    form = VillageFeedbackForm()
    if not form.validate_on_submit():
        form_errors(form)
    else:
        do(lambda: feedback.record_feedback(order, feedback.FeedbackInput(
            form.satisfaction.data, ASSISTANT_CHANNELS[0].value, form.comment.data), current_user, utcnow()),
            _("The household's satisfaction was recorded."))
    return redirect(url_for("village.follow_ups"), 303)
