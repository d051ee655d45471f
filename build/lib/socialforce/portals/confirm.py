"""The one confirmation step of irreversible or wide actions (dispatch, dispatch a whole page, cancel, suspend,
deactivate, end, revoke): a POST without `confirmed=1` changes nothing and renders a page that names what the
action will do and posts the same fields again with the confirmation. It needs no JavaScript."""
from __future__ import annotations

from flask import render_template, request

CONFIRM_FIELD = "confirmed"


def confirmed() -> bool:
    """Whether this POST carries the user's confirmation."""
    return request.form.get(CONFIRM_FIELD) == "1"


def ask(question: str, consequence: str, action_label: str, back_url: str, danger: bool = False):
    """The confirmation page for this POST: the question, what it will do, and the same fields posted again with
    the confirmation (the page that asked is `back_url`)."""
    fields = [(name, value) for name in request.form if name not in ("csrf_token", CONFIRM_FIELD)
              for value in request.form.getlist(name)]
    return render_template("confirm.html", question=question, consequence=consequence, action_label=action_label,
                           back_url=back_url, fields=fields, action=request.full_path.rstrip("?"),
                           danger=danger), 200
