"""Benchmark the volunteer's ranked task list (/volunteer/tasks) over many volunteers.

    python -m benchmarks.tasks --database-url sqlite:////tmp/s1/socialforce.db --volunteers 200

Picks approved volunteers with an active offer at random (fixed seed) and, in one fresh process, times:
`text_model_build_ms`, fitting the offer text model (paid once per process and hour); `first_ms`, the very first
call; `cold`, each volunteer's first call (SQLite and OS caches cold for their rows); `warm`, the same volunteers
again (`*_cpu`: the same calls' process CPU time, which shared cores do not inflate). With --page the whole page is timed (view, queries, template) through the app's request
pipeline for each volunteer; otherwise the service `matching.tasks_for_volunteer`. --verify N also compares N
volunteers' lists with the full-index reference (every live task, the warm index of all offers: slow) and
reports the differences. Prints JSON (milliseconds); read-only.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time

import sqlalchemy as sa
from flask_login import login_user

from socialforce import create_app
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    OfferStatus,
    Order,
    OrderState,
    Provider,
    ProviderStatus,
    Role,
    ServiceItem,
    ServiceOffer,
    TaskSignup,
    User,
    Volunteer,
    VolunteerTask,
    utcnow,
)
from socialforce.platform.services import matching


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))]


def _summary(values: list[float]) -> dict:
    return {"p50_ms": round(statistics.median(values), 1), "p95_ms": round(_percentile(values, 0.95), 1),
            "max_ms": round(max(values), 1), "n": len(values)}


def _sample(count: int, seed: int) -> list[int]:
    """Ids of `count` approved volunteers with an active offer, drawn at random."""
    ids = db.session.scalars(
        sa.select(Volunteer.id).join(Provider, Provider.id == Volunteer.provider_id)
        .where(Provider.status == ProviderStatus.approved,
               sa.exists().where(ServiceOffer.provider_id == Provider.id, ServiceOffer.status == OfferStatus.active))
        .order_by(Volunteer.id)).all()
    return sorted(random.Random(seed).sample(list(ids), min(count, len(ids))))


def _page_caller(app):
    """A function that renders /volunteer/tasks for one volunteer (logged in for that request only)."""
    def call(volunteer_id: int) -> int:
        volunteer = db.session.get(Volunteer, volunteer_id)
        user = User(id=0, username="bench", display_name=volunteer.real_name, role=Role.volunteer,
                    provider_id=volunteer.provider_id, active=True, session_version=1)
        with app.test_request_context("/volunteer/tasks"):
            login_user(user)
            response = app.full_dispatch_request()
            status = response.status_code
        db.session.expunge_all()
        return status

    return call


def _service_caller():
    def call(volunteer_id: int) -> int:
        matching.tasks_for_volunteer(db.session.get(Volunteer, volunteer_id), k=20)
        db.session.rollback()
        return 200

    return call


def _verify(volunteer_ids: list[int]) -> dict:
    """Compare the fast list with the full-index reference for each volunteer."""
    on = utcnow().date()
    started = time.perf_counter()
    index = matching.warm_index(on)
    build_s = time.perf_counter() - started
    live = db.session.execute(
        sa.select(ServiceItem.id, VolunteerTask.id).join(Order, Order.item_id == ServiceItem.id)
        .join(VolunteerTask, VolunteerTask.order_id == Order.id)
        .where(Order.state.in_((OrderState.dispatched, OrderState.accepted)),
               VolunteerTask.taken < VolunteerTask.slots)).all()
    all_items = matching.load_items(sorted({i for i, _ in live}), on)
    same, differ, nonempty = 0, [], 0
    for vid in volunteer_ids:
        volunteer = db.session.get(Volunteer, vid)
        taken = set(db.session.scalars(sa.select(TaskSignup.task_id).where(TaskSignup.volunteer_id == vid)))
        open_items = {i for i, t in live if t not in taken}
        items = [it for it in all_items if it.id in open_items]
        ranked: dict = {}
        for offer in matching.load_offers(on, [volunteer.provider_id]):
            for c in index.tasks_for_volunteer(offer, items, k=20):
                if c.item_id not in ranked or c.score > ranked[c.item_id].score:
                    ranked[c.item_id] = c
        slow = sorted(ranked.values(), key=lambda c: (-c.score, c.item_id))[:20]
        fast = matching.tasks_for_volunteer(volunteer, k=20)
        key = [(c.item_id, round(c.score, 9), tuple((r.feature, round(r.contribution, 9)) for r in c.reasons))
               for c in fast]
        ref = [(c.item_id, round(c.score, 9), tuple((r.feature, round(r.contribution, 9)) for r in c.reasons))
               for c in slow]
        nonempty += bool(slow)
        if key == ref:
            same += 1
        else:
            differ.append(vid)
    return {"volunteers": len(volunteer_ids), "identical": same, "with_tasks": nonempty, "differ": differ[:20],
            "full_index_build_s": round(build_s, 1)}


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark and print its JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--volunteers", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--page", action="store_true", help="time the whole page, not only the service")
    parser.add_argument("--verify", type=int, default=0, help="compare this many volunteers with the full index")
    args = parser.parse_args(argv)
    url = args.database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    app = create_app("development", SQLALCHEMY_DATABASE_URI=url, DEBUG=False, WTF_CSRF_ENABLED=False)
    report: dict = {"database": url.split(":", 1)[0], "what": "page" if args.page else "service",
                    "load_average": [round(x, 2) for x in os.getloadavg()], "cpus": os.cpu_count()}
    with app.app_context():
        started = time.perf_counter()
        matching.offer_text_model(utcnow().date())  # what the process's first ranked list pays once (then cached)
        report["text_model_build_ms"] = round((time.perf_counter() - started) * 1000, 1)
        ids = _sample(args.volunteers, args.seed)
        call = _page_caller(app) if args.page else _service_caller()
        timings: dict[str, list[float]] = {"cold": [], "warm": []}
        cpu: dict[str, list[float]] = {"cold": [], "warm": []}
        first = None
        for phase in ("cold", "warm"):
            for vid in ids:
                started, cpu_started = time.perf_counter(), time.process_time()
                status = call(vid)
                elapsed = (time.perf_counter() - started) * 1000
                cpu[phase].append((time.process_time() - cpu_started) * 1000)
                if status != 200:
                    raise SystemExit(f"volunteer {vid}: status {status}")
                if first is None:
                    first = elapsed
                timings[phase].append(elapsed)
        listed = [len(matching.tasks_for_volunteer(db.session.get(Volunteer, vid), k=20)) for vid in ids]
        report.update(volunteers=len(ids), first_ms=round(first or 0.0, 1), cold=_summary(timings["cold"]),
                      warm=_summary(timings["warm"]), cold_cpu=_summary(cpu["cold"]), warm_cpu=_summary(cpu["warm"]),
                      volunteers_with_tasks=sum(1 for n in listed if n),
                      mean_tasks_listed=round(statistics.mean(listed), 2) if listed else 0)
        if args.verify:
            report["verify"] = _verify(ids[:args.verify])
    report["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return report


if __name__ == "__main__":
    main()
