"""Staff portal views: overview, households, the audited ID reveal."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, flash, make_response, render_template, request
from flask_login import current_user

from socialforce.platform import reference
from socialforce.platform.auth import PORTAL_ROLES, guard, read_only
from socialforce.platform.extensions import db
from socialforce.platform.models import AssistanceCategory, Member, ServiceItem
from socialforce.platform.row_loads import HOUSEHOLD_ROW
from socialforce.platform.scoping import get_household_or_404
from socialforce.platform.services import ServiceError, households, overview, village
from socialforce.platform.transactions import run_in_transaction
from socialforce.portals.page_helpers import paginated
from socialforce.portals.staff.forms import RevealForm

bp = Blueprint("staff", __name__, template_folder="templates")
guard(bp, PORTAL_ROLES["staff"])
# Prefecture staff read every county, masked: the audited reveal is their only POST; imports and the matching
# review (a dispatch page) are closed to them.
read_only(bp, writes_allowed={"staff.reveal"},
          also_denied={"staff.imports", "staff.import_template", "staff.import_preview", "staff.import_status",
                       "staff.import_errors", "staff.matching_review"})


def home():
    """The staff overview for the user's scope."""
    return render_template("staff/home.html", data=overview.staff_overview(current_user),
                           pending_drafts=village.pending_count(current_user))


def household_list():
    """Search households by name, ID suffix, town and assistance category."""
    args = request.args
    town_id = args.get("town", type=int) if current_user.town_id is None else None
    query = households.search(current_user, args.get("q"), args.get("id_suffix"), town_id, args.get("category"))
    page = paginated(query.options(*HOUSEHOLD_ROW))
    towns = reference.scope_towns(current_user)
    categories = db.session.scalars(sa.select(AssistanceCategory).order_by(AssistanceCategory.id)).all()
    return render_template("staff/households.html", page=page, towns=towns, categories=categories)


def _household_page(household, form: RevealForm, status: int = 200, **extra):
    items = db.session.scalars(
        sa.select(ServiceItem).where(ServiceItem.household_id == household.id).order_by(ServiceItem.id.desc())).all()
    return render_template("staff/household.html", household=household, form=form, items=items, **extra), status


def household(household_id: int):
    """A household's members (IDs masked) and its service list."""
    return _household_page(get_household_or_404(household_id, current_user), RevealForm())


def reveal(member_id: int):
    """Show one member's full resident ID after stating a purpose; audited, never cached."""
    member = db.get_or_404(Member, member_id)
    household = get_household_or_404(member.household_id, current_user)
    form = RevealForm()
    if not form.validate_on_submit():
        return _household_page(household, form, 400, reveal_for=member.id)
    try:
        number = run_in_transaction(lambda: households.reveal_id_number(member, current_user, form.purpose.data,
                                                                        request.remote_addr))
    except ServiceError as e:
        flash(e.message, "danger")
        return _household_page(household, form, e.status)
    response = make_response(render_template("staff/reveal.html", household=household, member=member,
                                             number=number))
    response.headers["Cache-Control"] = "no-store"
    return response
