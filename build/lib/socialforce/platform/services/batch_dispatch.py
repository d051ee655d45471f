"""Dispatching a page of open items at once (the matching review's "dispatch the whole page"), as a background job.

The items are re-read in the owner's scope when the job runs (an item dispatched or closed meanwhile is left out
by the assignment's own checks: dispatch refuses an item that is no longer open, and then nothing is written).
"""
from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from socialforce.platform.extensions import db
from socialforce.platform.models import BackgroundJob, Household, Provider, ServiceItem, User
from socialforce.platform.scoping import household_filter
from socialforce.platform.services import background, dispatch, matching

MAX_ITEMS = 50


def submit(item_ids: list[int], user: User) -> BackgroundJob:
    """Queue the dispatch of these items (ids only; at most MAX_ITEMS)."""
    return background.submit("dispatch_batch", user, subject="dispatch_batch", item_ids=item_ids[:MAX_ITEMS])


def preview(item_ids: list[int], user: User) -> tuple[int, dict[str, int], int]:
    """What dispatching these items would do now, without doing it: (orders, orders per provider name, volunteer
    tasks); for the confirmation step."""
    listed = _listed(item_ids, user)
    choices = matching.assign_items(listed)
    names = dict(db.session.execute(sa.select(Provider.id, Provider.name).where(
        Provider.id.in_({c.provider_id for c in choices.values()}))).all())
    per_provider: dict[str, int] = {}
    for choice in choices.values():
        per_provider[names[choice.provider_id]] = per_provider.get(names[choice.provider_id], 0) + 1
    tasks = sum(1 for it in listed if it.id not in choices and it.category.volunteer_task)
    return len(choices) + tasks, per_provider, tasks


def _listed(item_ids: list[int], user: User) -> list[ServiceItem]:
    by_id = {it.id: it for it in db.session.scalars(
        sa.select(ServiceItem).join(Household, Household.id == ServiceItem.household_id)
        .where(ServiceItem.id.in_(item_ids), household_filter(user)))}
    return [by_id[i] for i in item_ids if i in by_id]


def dispatch_listed(item_ids: list[int], user: User, report: Callable[[str, int, int], None]) -> dict:
    """Dispatch the listed items in the user's scope by the best capacity-aware assignment (all or nothing);
    items in a volunteer category that no organisation takes become volunteer tasks."""
    listed = _listed(item_ids, user)
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
