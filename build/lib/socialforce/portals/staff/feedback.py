"""Staff follow-ups (满意度回访): completed orders whose household has not been asked yet, and recording the
household's own satisfaction on an order's page."""
from __future__ import annotations

from flask import redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import RadioField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from socialforce.platform.labels import FEEDBACK_CHANNEL
from socialforce.platform.models import utcnow
from socialforce.platform.scoping import get_order_or_404
from socialforce.platform.services import feedback
from socialforce.portals.forms import RATING_CHOICES, do, form_errors
from socialforce.portals.page_helpers import choices, paginated

SATISFACTION_MISSING = _l("Choose the household's satisfaction, from 1 to 5.")
CHANNEL_MISSING = _l("Say who contacted the household, and how.")


class FeedbackForm(FlaskForm):
    satisfaction = RadioField(_l("The household's satisfaction (1 very dissatisfied .. 5 very satisfied)"),
                              coerce=int, choices=RATING_CHOICES, invalid_choice_message=SATISFACTION_MISSING,
                              validators=[InputRequired(SATISFACTION_MISSING)])
    channel = RadioField(_l("Who asked the household"), choices=choices(
                             (k, v) for k, v in FEEDBACK_CHANNEL.items() if k in feedback.STAFF_CHANNELS),
                         invalid_choice_message=CHANNEL_MISSING, validators=[InputRequired(CHANNEL_MISSING)])
    comment = TextAreaField(_l("What the household said"),
                            validators=[Optional(), Length(max=feedback.COMMENT_LENGTH)])


def follow_ups():
    """Completed orders in scope whose household has not been asked about its satisfaction yet."""
    page = paginated(feedback.awaiting_feedback(current_user))
    return render_template("staff/visits/follow_ups.html", page=page)


def record_follow_up(order_id: int):
    """Record the household's satisfaction with a completed order (one per order)."""
    order = get_order_or_404(order_id, current_user)
    form = FeedbackForm()
    if not form.validate_on_submit():
        form_errors(form)
    elif do(lambda: feedback.record_feedback(order, feedback.FeedbackInput(
            form.satisfaction.data, form.channel.data, form.comment.data), current_user, utcnow()),
            _("The household's satisfaction was recorded.")):
        return redirect(url_for("staff.follow_ups"), 303)
    return redirect(url_for("staff.evaluate", order_id=order.id), 303)
