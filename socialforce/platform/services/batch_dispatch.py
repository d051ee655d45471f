"""Dispatching a page of open items at once (the matching review's "dispatch the whole page"), as a background job.

The items are re-read in the owner's scope when the job runs (an item dispatched or closed meanwhile is left out
by the assignment's own checks: dispatch refuses an item that is no longer open, and then nothing is written).
"""
from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from socialforce.platform.extensions import db
from socialforce.platform.models import BackgroundJob, Household, ServiceItem, User
from socialforce.platform.scoping import household_filter
from socialforce.platform.services import background, dispatch, matching

MAX_ITEMS = 50


def submit(item_ids: list[int], user: User) -> BackgroundJob:
    """Queue the dispatch of these items (ids only; at most MAX_ITEMS)."""
    return background.submit("dispatch_batch", user, subject="dispatch_batch", item_ids=item_ids[:MAX_ITEMS])


def dispatch_listed(item_ids: list[int], user: User, report: Callable[[str, int, int], None]) -> dict:
    """Dispatch the listed items in the user's scope by the best capacity-aware assignment (all or nothing);
    items in a volunteer category that no organisation takes become volunteer tasks."""
    by_id = {it.id: it for it in db.session.scalars(
        sa.select(ServiceItem).join(Household, Household.id == ServiceItem.household_id)
        .where(ServiceItem.id.in_(item_ids), household_filter(user)))}
    listed = [by_id[i] for i in item_ids if i in by_id]
    report("assign", 0, len(listed))
    choices = matching.assign_items(listed)
    dispatched = 0
    for n, it in enumerate(listed, start=1):
        if it.id in choices:
            dispatch.dispatch(it, choices[it.id], user)
            dispatched += 1
        elif it.category.volunteer_task:
            dispatch.dispatch(it, dispatch.Choice(provider_id=None), user)
            dispatched += 1
        report("dispatch", n, len(listed))
    return {"dispatched": dispatched, "items": len(listed)}
