"""Dispatching a page of open items at once (the matching review's "dispatch the whole page"), as a background job.

The items are re-read in the owner's scope when the job runs (an item dispatched or closed meanwhile is left out
by the assignment's own checks: dispatch refuses an item that is no longer open, and then nothing is written).

Partitioned: when the items fall into independent parts (no offer can serve items of two parts: other counties,
or towns whose offers do not cross; `socialforce.matching.partition`), the job splits the batch into at most
MATCH_PARTS_MAX `match_part` jobs, which any worker takes, and waits (state `waiting`, progress = parts done of
all). Each part solves its items with the whole index (the same scores as one batch) and keeps its choices and
certificate (utility, LP bound) in its own result, writing nothing else; the last part to finish queues the batch
again, which merges the parts (utility and bound in total) and dispatches every item in ONE transaction. A part
whose worker died is re-queued by the runner's recovery (up to JOB_MAX_ATTEMPTS); a part that fails marks the batch
failed with its reason, and nothing is dispatched.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from socialforce.matching.partition import PartResult, merge
from socialforce.platform import queue
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    BackgroundJob,
    Household,
    JobState,
    Provider,
    ServiceItem,
    User,
    utcnow,
)
from socialforce.platform.scoping import household_filter
from socialforce.platform.services import ServiceError, background, dispatch, matching
from socialforce.platform.services.background import PART_FAILED, RunningJob, Waiting
from socialforce.platform.services.candidates import Choice
from socialforce.platform.transactions import run_in_transaction

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


def _apply(listed: list[ServiceItem], choices: dict[int, Choice], user: User,
           report: Callable[[str, int, int], None]) -> dict:
    """Dispatch the listed items by the choices (in the caller's one transaction); volunteer tasks for the rest."""
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


def dispatch_listed(item_ids: list[int], user: User, report: Callable[[str, int, int], None]) -> dict:
    """Dispatch the listed items in the user's scope by the best capacity-aware assignment (all or nothing);
    items in a volunteer category that no organisation takes become volunteer tasks."""
    listed = _listed(item_ids, user)
    report("assign", 0, len(listed))
    return _apply(listed, matching.assign_items(listed), user, report)


def run(job: RunningJob) -> dict | Waiting:
    """The `dispatch_batch` job: split into part jobs and wait, or (one part) solve and dispatch at once; queued
    again after its parts, merge them and dispatch everything in one transaction."""
    if "parts" in job.params:
        return _merge(job)
    listed = _listed(list(job.params.get("item_ids") or []), job.owner)
    now = utcnow()
    report = job.report
    report("assign", 0, len(listed))
    parts = matching.split_items([it.id for it in listed], now, int(current_app.config["MATCH_PARTS_MAX"]))
    if len(parts) <= 1:
        return _apply(listed, matching.assign_items(listed, now), job.owner, report)
    children = [background.submit("match_part", job.owner, subject=f"dispatch_batch:{job.id}", parent=job.id,
                                  part=n, item_ids=ids, now=now.isoformat()) for n, ids in enumerate(parts)]
    db.session.execute(sa.update(BackgroundJob).where(BackgroundJob.id == job.id).values(
        params={**job.params, "parts": [c.id for c in children], "now": now.isoformat()})
        .execution_options(synchronize_session=False))
    return Waiting(parts=len(children))


def run_part(job: RunningJob) -> dict:
    """The `match_part` job: solve one part (writes nothing but its own result), then count it done on the batch,
    in the same transaction as its done stamp; the last part queues the batch to merge."""
    job.report("assign", 0, 1)
    choices, certificate = matching.assign_part(list(job.params["item_ids"]), datetime.fromisoformat(job.params["now"]))
    parent = int(job.params["parent"])
    counted = db.session.execute(
        sa.update(BackgroundJob).where(BackgroundJob.id == parent, BackgroundJob.state == JobState.waiting)
        .values(done=BackgroundJob.done + 1).execution_options(synchronize_session=False)).rowcount
    if counted == 1 and db.session.execute(
            sa.update(BackgroundJob)
            .where(BackgroundJob.id == parent, BackgroundJob.state == JobState.waiting,
                   BackgroundJob.done >= BackgroundJob.total)
            .values(state=JobState.queued, phase="merge").execution_options(synchronize_session=False)).rowcount:
        queue.enqueue_after_commit(parent)
    job.report("assign", 1, 1)
    return {"choices": {str(i): asdict(c) for i, c in choices.items()}, "certificate": certificate.as_dict()}


def part_failed(job: RunningJob, message: str) -> None:
    """A part failed (after the runner's retries of a lost worker): the batch fails with its reason, nothing is
    dispatched (a part still running counts for nothing: the batch no longer waits)."""
    def work() -> None:
        db.session.execute(
            sa.update(BackgroundJob)
            .where(BackgroundJob.id == int(job.params["parent"]), BackgroundJob.state == JobState.waiting)
            .values(state=JobState.failed, finished_at=utcnow(),
                    error=f"{PART_FAILED}:{int(job.params.get('part', 0)) + 1}:{message}"[:2000])
            .execution_options(synchronize_session=False))

    run_in_transaction(work)


def _merge(job: RunningJob) -> dict:
    """Merge the parts' results (certificate: utility and bound per part and in total) and dispatch everything."""
    ids = [int(i) for i in job.params["parts"]]
    rows = {r.id: r for r in db.session.scalars(sa.select(BackgroundJob).where(BackgroundJob.id.in_(ids)))}
    if any(i not in rows or rows[i].state != JobState.done for i in ids):
        raise ServiceError(_("A part of this batch did not finish; nothing was dispatched. Start it again."))
    choices: dict[int, Choice] = {}
    certificates = []
    for i in ids:
        result = rows[i].result or {}
        choices.update({int(k): Choice(**v) for k, v in result["choices"].items()})
        certificates.append(PartResult.from_dict(result["certificate"]))
    merged = merge(certificates)
    job.report("merge", len(ids), len(ids))
    listed = _listed(list(job.params.get("item_ids") or []), job.owner)
    out = _apply(listed, choices, job.owner, job.report)
    return {**out, "parts": len(ids), "utility": round(merged.assignment.utility, 6),
            "lp_bound": round(merged.lp_bound, 6),
            "per_part": [{"items": c.items, "utility": round(c.utility, 6), "lp_bound": round(c.lp_bound, 6),
                          "seconds": round(c.seconds, 3)} for c in certificates]}
