"""Benchmark notices: telling the volunteers a new task fits, and delivering the outbox.

    python -m benchmarks.notifications --volunteers 2000 --messages 500

Builds a fresh SQLite database in a temporary folder (migrations and reference data), with `--volunteers` approved
volunteers spread over the towns, each with an active offer (random skills), and times, in one process:
`task_published_ms`, the notices for one new volunteer task in a town (`notices.order_event` for the dispatch:
finding the volunteers it fits and writing their inbox and outbox rows), over 20 tasks; and `deliver`, one run of
the delivery job (at most 500 messages a run) over `--messages` due messages (each user chose e-mail and SMS) with senders that accept at once,
so what is timed is the outbox's own work (claim and commit before sending, mark sent and commit after).
Prints JSON (milliseconds).
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import flask_migrate
import sqlalchemy as sa

from socialforce import create_app
from socialforce.platform import crypto, weekmask
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    Household,
    Order,
    OrderState,
    Provider,
    ProviderKind,
    ProviderStatus,
    Role,
    ServiceCategory,
    ServiceItem,
    ServiceOffer,
    Town,
    User,
    Village,
    Volunteer,
    VolunteerTask,
    utcnow,
)
from socialforce.platform.reference import ensure_reference_data
from socialforce.platform.services import notices, notification_prefs, notifications

SKILLS = ("daily_care", "emotional_comfort", "tutoring", "medical_escort")


class _Accept:
    """A sender that accepts every message at once."""

    def __init__(self):
        self.count = 0

    def send(self, recipient, subject, body):
        self.count += 1


def _volunteers(count: int, rng: random.Random) -> None:
    towns = db.session.scalars(sa.select(Town).order_by(Town.id)).all()
    categories = {c.code: c for c in db.session.scalars(sa.select(ServiceCategory))}
    today = date.today()
    for n in range(count):
        town = towns[n % len(towns)]
        provider = Provider(kind=ProviderKind.volunteer, name=f"志愿者{n}", status=ProviderStatus.approved,
                            town_id=town.id, lat=town.lat, lon=town.lon, radius_km=5.0)
        db.session.add(provider)
        db.session.flush()
        skills = rng.sample(SKILLS, 2)
        db.session.add(Volunteer(provider_id=provider.id, real_name=provider.name, id_number_enc=crypto.encrypt("x"),
                                 id_number_hash=f"bench{n}", id_masked="3704**********0000",
                                 phone_enc=crypto.encrypt("13800000000"), phone_masked="138****0000",
                                 skills=" ".join(skills), availability=weekmask.ALL))
        offer = ServiceOffer(provider_id=provider.id, title="志愿服务", description="上门服务", slots_per_week=3,
                             windows=weekmask.ALL, valid_from=today - timedelta(days=30),
                             valid_to=today + timedelta(days=300))
        offer.categories = [categories[s] for s in skills]
        offer.towns = [town]
        db.session.add(offer)
        db.session.add(User(username=f"vol{n}", password_hash="x", display_name=provider.name, role=Role.volunteer,
                            provider_id=provider.id))
    db.session.commit()


def _task(town: Town, n: int) -> Order:
    village = Village(town_id=town.id, name=f"基准村{n}", lat=town.lat, lon=town.lon)
    db.session.add(village)
    db.session.flush()
    household = Household(code=f"B{n:06d}", town_id=town.id, village_id=village.id, head_name="户主", address="地址")
    db.session.add(household)
    db.session.flush()
    category = db.session.scalar(sa.select(ServiceCategory).where(ServiceCategory.code == "daily_care"))
    item = ServiceItem(household_id=household.id, category_id=category.id, description="生活照料",
                       windows=weekmask.ALL, slots_needed=2)
    db.session.add(item)
    db.session.flush()
    order = Order(item_id=item.id, provider_id=None, state=OrderState.dispatched, attempt=1)
    db.session.add(order)
    db.session.flush()
    db.session.add(VolunteerTask(order_id=order.id, slots=2))
    db.session.flush()
    return order


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--volunteers", type=int, default=2000)
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    folder = Path(tempfile.mkdtemp(prefix="bench-notices-"))
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=f"sqlite:///{folder / 'bench.db'}")
    with app.app_context():
        flask_migrate.upgrade()
        ensure_reference_data()
        db.session.commit()
        app.config["NOTIFY_CHANNELS"] = ["email", "sms"]  # opt-in only: the task notices add inbox rows alone
        _volunteers(args.volunteers, rng)
        town = db.session.scalar(sa.select(Town).order_by(Town.id))
        timings, told = [], []
        for n in range(20):
            order = _task(town, n)
            started = time.perf_counter()
            told.append(notices.order_event(order, OrderState.dispatched, None))
            timings.append((time.perf_counter() - started) * 1000)
            db.session.commit()

        users = db.session.scalars(sa.select(User).order_by(User.id).limit(args.messages // 2)).all()
        for u in users:
            notification_prefs.save(u, notification_prefs.SettingsInput(email_kinds=("order_cancelled",),
                                                                        sms_kinds=("order_cancelled",)))
            notifications.notify([u.id], "order_cancelled", {"order_id": 1})
        db.session.commit()
        senders = {"email": _Accept(), "sms": _Accept()}
        started = time.perf_counter()
        result = notifications.deliver_pending(utcnow() + timedelta(minutes=1), senders)
        seconds = time.perf_counter() - started
        print(json.dumps({
            "volunteers": args.volunteers, "towns": db.session.scalar(sa.select(sa.func.count(Town.id))),
            "task_published_ms": {"p50": round(statistics.median(timings), 1), "max": round(max(timings), 1),
                                  "volunteers_told_p50": statistics.median(told)},
            "deliver": {"messages": result["sent"], "seconds": round(seconds, 2),
                        "messages_per_second": round(result["sent"] / seconds, 1)},
        }, indent=2))


if __name__ == "__main__":
    main()
