"""Needs recorded by village assistants (drafts) awaiting town staff: approve one into an open service item, or
return it with a reason the assistant sees."""
from __future__ import annotations

from flask import abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from socialforce.platform.extensions import db
from socialforce.platform.models import ItemDraft, utcnow
from socialforce.platform.services import village
from socialforce.portals.forms import do
from socialforce.portals.page_helpers import paginated


def _draft_or_404(draft_id: int) -> ItemDraft:
    draft = db.session.scalar(village.pending_drafts(current_user).where(ItemDraft.id == draft_id))
    if draft is None:
        abort(404)
    return draft


def drafts():
    """Drafts from the villages of the user's scope that await review, oldest first."""
    page = paginated(village.pending_drafts(current_user))
    return render_template("staff/drafts.html", page=page)


def approve_draft(draft_id: int):
    """Approve a draft: it becomes a normal open service item of the household."""
    draft = _draft_or_404(draft_id)
    do(lambda: village.approve_draft(draft, current_user, utcnow()),
       _("The need was approved and added to the household's service list."))
    return redirect(url_for("staff.drafts"), 303)


def return_draft(draft_id: int):
    """Return a draft to the village assistant with a reason."""
    draft = _draft_or_404(draft_id)
    do(lambda: village.return_draft(draft, request.form.get("reason", ""), current_user, utcnow()),
       _("The need was returned to the village assistant."))
    return redirect(url_for("staff.drafts"), 303)
