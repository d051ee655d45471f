"""The household's one-question satisfaction page, opened from the SMS link; no account, no personal data."""
from __future__ import annotations

from flask import render_template, request
from flask_babel import gettext as _
from flask_wtf import FlaskForm

from socialforce.platform.inputs import parse_int
from socialforce.platform.models import utcnow
from socialforce.platform.services import ServiceError, feedback_links
from socialforce.platform.transactions import run_in_transaction

MESSAGES = {"invalid": lambda: _("This link is not valid. Please check that you opened the whole link from the "
                                 "text message."),
            "expired": lambda: _("This link has expired. Thank you all the same."),
            "answered": lambda: _("Your answer has been received. Thank you!")}


def household_feedback(token: str):
    """Show the one question (1-5) for a valid link and record the answer once; otherwise say why not."""
    now = utcnow()
    view = feedback_links.lookup(token, now)
    form = FlaskForm()
    error = None
    if request.method == "POST" and view.state == "open":
        if not form.validate_on_submit():
            return render_template("public/feedback.html", view=view, message=None, error=None), 400
        satisfaction = parse_int(request.form.get("satisfaction"))
        try:
            run_in_transaction(lambda: feedback_links.answer(token, satisfaction, now))
        except ServiceError as e:
            if e.field != "satisfaction":
                view = feedback_links.lookup(token, now)
                return render_template("public/feedback.html", view=view, message=MESSAGES["answered"]()
                                       if view.state == "answered" else e.message, error=None), e.status
            error = e.message
        else:
            return render_template("public/feedback.html", view=view, message=MESSAGES["answered"](), error=None)
    message = None if view.state == "open" else MESSAGES[view.state]()
    return render_template("public/feedback.html", view=view, message=message, error=error), 400 if error else 200
