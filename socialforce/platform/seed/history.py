"""A year of orders: dispatch attempts (rank, score), responses, service, visits, records, outcomes and the
households' follow-ups.

After completion the provider rates its own service a little above what the household feels (ASSESSMENT_LIFT);
staff ask most households (FEEDBACK_SHARE, a few days later, by the channel mix FEEDBACK_CHANNELS) and record the
household's own satisfaction, which is what the learned ranker learns from. Acceptance and satisfaction follow
hidden drivers (provider quality, distance, pairing, category fit) that the
cold-start scores see only in part, so a learned ranker has signal to find. The dispatcher picks from the ranked
list with the position bias the ranker corrects for (P(position p) proportional to 1 / (1 + p)), and every list
is kept as impressions, as the platform keeps it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from socialforce.matching import FEATURES
from socialforce.matching.learn import propensity
from socialforce.matching.scoring import contributions
from socialforce.platform import weekmask
from socialforce.platform.localtime import to_local, to_utc
from socialforce.platform.models import (
    HouseholdBlock,
    HouseholdFeedback,
    Impression,
    Order,
    OrderEvent,
    Outcome,
    ServiceRecord,
    TaskSignup,
    Visit,
    VolunteerTask,
)
from socialforce.platform.seed import texts
from socialforce.platform.seed.providers import CATEGORY_ZH
from socialforce.platform.seed.world import ItemRef, ProviderRef, World, distance_km, scaled

MODEL_VERSION = "heuristic-v1"
HISTORY_SHARE = 0.33  # items with at least one past order
RESPONSE_HOURS = 48
MAX_ATTEMPTS = 3
SERVICE_MARGIN = timedelta(hours=3)  # a visit that started less than this ago is not over yet
BLOCKS_AT_SCALE_1 = 40
HOUSEHOLD_PRIORITY = {"tekun": 1.0, "child": 1.0, "disability": 0.8, "elderly": 0.7, "dibao": 0.4}
ASSESSMENT_LIFT = 0.7  # providers rate their own service this much above the household's level
FEEDBACK_SHARE = 0.85  # completed orders whose household staff ask (回访) ...
FEEDBACK_DAYS = (2, 20)  # ... this many days after completion (later than today: still awaiting)
FEEDBACK_CHANNELS = {"staff_phone": 6, "assistant_visit": 3, "staff_visit": 1}  # relative weights
CANCEL_REASONS = ("服务对象已入住养老机构", "家庭搬迁至外地", "服务对象住院治疗", "需求已由其他渠道解决")


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def rating(level: float) -> int:
    """A 1-5 rating for a hidden level."""
    return min(5, max(1, round(level)))


@dataclass(slots=True)
class Candidate:
    provider: ProviderRef
    distance: float
    fit: bool
    paired: bool
    score: float = 0.0
    values: tuple[float, ...] = ()
    contributions: tuple[float, ...] = ()

    def logged_reasons(self) -> dict:
        """The ranking as the platform logs it with an order (see services.matching.to_choice)."""
        return {"offer_id": None, "reasons": [
            {"feature": f, "contribution": round(c, 4), "value": round(v, 4)}
            for f, c, v in zip(FEATURES, self.contributions, self.values, strict=True)]}


class History:
    """Collects the rows of orders and everything hanging off them, then writes them in foreign-key order."""

    def __init__(self, world: World):
        self.world = world
        self.rng = world.rng
        self.rows: dict[type, list[dict]] = {m: [] for m in (Order, Impression, OrderEvent, VolunteerTask, TaskSignup,
                                                              Visit, ServiceRecord, Outcome, HouseholdFeedback)}
        self.org_pool: dict[tuple[int, str], list[ProviderRef]] = {}
        self.volunteer_pool: dict[tuple[int, str], list[ProviderRef]] = {}
        for provider in world.agencies + world.units:
            self._index(self.org_pool, provider)
        for provider in world.volunteers:
            if provider.approved:
                self._index(self.volunteer_pool, provider)
        self.rated: list[tuple[int, int, int, datetime]] = []  # household's satisfaction, household, provider, when

    @staticmethod
    def _index(pool: dict, provider: ProviderRef) -> None:
        for town_id in provider.towns:
            for category in provider.categories:
                pool.setdefault((town_id, category), []).append(provider)

    # ------------------------------------------------------------ candidates

    def candidates(self, item: ItemRef, exclude: set[int]) -> list[Candidate]:
        """Up to 10 providers able to serve the item, ordered by the (noisy) score the dispatcher saw."""
        key = (item.household.town_id, item.category)
        orgs = [p for p in self.org_pool.get(key, []) if p.id not in exclude]
        volunteers = [] if item.category in self.world.task_categories else self.volunteer_pool.get(key, [])
        picked = orgs[:7] + self.rng.sample(volunteers, min(len(volunteers), 10 - min(len(orgs), 7)))
        result = []
        paired_unit = self.world.pairings.get(item.household.id, (None, None))[0]
        for provider in picked:
            if provider.id in exclude:
                continue
            result.append(self.candidate(item, provider, provider is paired_unit))
        result.sort(key=lambda c: (-c.score, c.provider.id))
        return result

    def candidate(self, item: ItemRef, provider: ProviderRef, paired: bool) -> Candidate:
        """A provider as the platform would have ranked it for the item, with the logged feature values."""
        c = Candidate(provider, distance_km(item.household.lat, item.household.lon, provider.lat, provider.lon),
                      item.category in provider.strengths, paired)
        c.values = self.logged_values(item, c)
        c.contributions = tuple(float(x) for x in contributions(np.array([c.values]))[0])
        c.score = round(sum(c.contributions), 4)
        return c

    def logged_values(self, item: ItemRef, c: Candidate) -> tuple[float, ...]:
        """The feature values the platform would have shown (FEATURES order): text fit, distance, pairing,
        continuity, a track record that only partly reveals the provider's hidden quality, priority, load."""
        rng = self.rng
        text = rng.uniform(0.35, 0.85) if c.fit else rng.uniform(0.05, 0.45)
        track = min(1.0, max(0.0, 0.55 + 0.12 * c.provider.quality + rng.gauss(0.0, 0.08)))
        return (text, c.distance, float(c.paired), 0.0, track, HOUSEHOLD_PRIORITY.get(item.household.kind, 0.4),
                rng.uniform(0.2, 1.0))

    def acceptance(self, c: Candidate) -> float:
        """The hidden probability that a provider accepts: a busy one (little free capacity) often declines, and
        distance deters volunteers and units, who travel on their own, far more than agencies with a car."""
        free = c.values[FEATURES.index("load")]
        per_km = 0.02 if c.provider.kind == "agency" else 0.12
        return sigmoid(1.0 + 3.0 * c.provider.quality + 0.3 * c.fit + 0.6 * c.paired - per_km * c.distance
                       + 2.5 * (free - 0.6))

    def satisfaction(self, quality: float, fit: bool, paired: bool, distance: float) -> float:
        """The hidden satisfaction level (about 1-5) a household would report."""
        return 3.0 + 1.3 * quality + 0.8 * fit + 0.4 * paired - 0.03 * distance + self.rng.gauss(0.0, 0.5)

    # ------------------------------------------------------------ rows

    def order(self, item: ItemRef, c: Candidate | None, attempt: int, rank: int | None, at: datetime,
              due: datetime | None = None, shown: list[Candidate] | None = None) -> dict:
        """A dispatched order (to a provider, or as a volunteer task when `c` is None) with the list it came from:
        `shown` (ranked, `c` at `rank`), or `c` alone."""
        provider = c.provider if c else None
        row = {"id": self.world.writer.next_id(Order), "item_id": item.id, "county_id": self.world.county_id,
               "provider_id": provider.id if provider else None, "assignee_id": None,
               "contract_id": provider.contract_id if provider else None, "state": "dispatched",
               "score": c.score if c else None, "rank": rank, "model_version": MODEL_VERSION if c else None,
               "reasons": c.logged_reasons() if c else None,
               "attempt": attempt, "expected_hours": self.rng.choice((1.5, 2.0, 2.0, 3.0)), "created_at": at,
               "dispatched_at": at, "response_due_at": due or at + timedelta(hours=RESPONSE_HOURS),
               "responded_at": None, "completed_at": None, "decline_reason": None}
        self.rows[Order].append(row)
        if c:
            listed = enumerate(shown, start=1) if shown else [(rank, c)]
            self.rows[Impression].extend(
                {"id": self.world.writer.next_id(Impression), "order_id": row["id"], "provider_id": s.provider.id,
                 "position": position, "score": s.score, "features": [round(v, 4) for v in s.values]}
                for position, s in listed)
        self.event(row, None, "dispatched", at)
        return row

    def event(self, order: dict, from_state: str | None, to_state: str, at: datetime, reason: str | None = None):
        self.rows[OrderEvent].append({"id": self.world.writer.next_id(OrderEvent), "order_id": order["id"],
                                      "from_state": from_state, "to_state": to_state, "actor_id": None,
                                      "reason": reason, "at": at})

    def move(self, order: dict, to_state: str, at: datetime, reason: str | None = None) -> None:
        """Record a state transition."""
        self.event(order, order["state"], to_state, at, reason)
        order["state"] = to_state

    def visit_time(self, item: ItemRef, after: datetime) -> datetime:
        """The next start (UTC) after `after` inside one of the item's windows (local time)."""
        day, period = self.rng.choice(weekmask.cells(item.windows))
        local = to_local(after) + timedelta(days=1)
        local += timedelta(days=(day - local.weekday()) % 7)
        start_hour = weekmask.PERIOD_HOURS[weekmask.PERIODS[period]][0]
        return to_utc(local.replace(hour=start_hour, minute=self.rng.choice((0, 30)), second=0, microsecond=0))

    def visit(self, order: dict, item: ItemRef, start: datetime, done: bool, assignee: int | None = None,
              volunteer: ProviderRef | None = None) -> None:
        """A visit by a provider member or a volunteer; done visits have check-in/out and volunteers a record."""
        rng, h = self.rng, item.household
        row = {"id": self.world.writer.next_id(Visit), "order_id": order["id"], "series_id": None,
               "assignee_id": assignee, "volunteer_id": volunteer.volunteer_id if volunteer else None,
               "starts_at": start, "ends_at": start + timedelta(hours=2), "status": "planned",
               "checkin_at": None, "checkout_at": None, "checkin_lat": None, "checkin_lon": None,
               "checkout_lat": None, "checkout_lon": None, "notes": None, "cancel_reason": None, "reminded_at": None}
        if done:
            checkin = start + timedelta(minutes=rng.randint(-10, 20))
            checkout = checkin + timedelta(minutes=rng.randint(45, 120))
            lat, lon = h.lat + rng.gauss(0, 0.0003), h.lon + rng.gauss(0, 0.0003)
            row.update(status="completed", checkin_at=checkin, checkout_at=checkout, checkin_lat=round(lat, 6),
                       checkin_lon=round(lon, 6), checkout_lat=round(lat, 6), checkout_lon=round(lon, 6),
                       notes=rng.choice((None, None, "服务对象状态良好", "已完成约定服务内容")))
            if volunteer:
                self.record(row, item, volunteer, int((checkout - checkin).total_seconds() // 60))
        self.rows[Visit].append(row)

    def record(self, visit: dict, item: ItemRef, volunteer: ProviderRef, minutes: int) -> None:
        """A volunteer's service-hours record, mostly confirmed a few days later."""
        confirmed = visit["checkout_at"] + timedelta(days=self.rng.randint(1, 4))
        if confirmed > self.world.now or self.rng.random() < 0.12:
            confirmed = None
        town = self.world.town_by_id[item.household.town_id]
        self.rows[ServiceRecord].append({
            "id": self.world.writer.next_id(ServiceRecord), "visit_id": visit["id"],
            "volunteer_id": volunteer.volunteer_id, "served_on": to_local(visit["checkin_at"]).date(),
            "place": town.name_zh, "content": texts.RECORD_CONTENT.get(item.category, CATEGORY_ZH[item.category]),
            "minutes": minutes, "confirmed_by_id": None, "confirmed_at": confirmed})

    def outcome(self, order: dict, source: str, level: float, at: datetime) -> None:
        """An outcome whose assessment, resolution and goal attainment follow the level the evaluator sees."""
        rng = self.rng
        assessment = rating(level)
        resolved = "yes" if level >= 3.8 else "partly" if level >= 2.6 else "no"
        self.rows[Outcome].append({
            "id": self.world.writer.next_id(Outcome), "order_id": order["id"], "source": source,
            "resolved": resolved, "goal_attainment": min(2, max(-2, round(level - 3.3 + rng.gauss(0, 0.5)))),
            "assessment": assessment, "follow_up_item_id": None, "comment": texts.comment(rng, assessment),
            "recorded_by_id": None, "recorded_at": at})

    def feedback(self, order: dict, level: float, at: datetime) -> int:
        """The household's follow-up: its own satisfaction (the hidden level), asked by a weighted channel."""
        satisfaction = rating(level)
        self.rows[HouseholdFeedback].append({
            "id": self.world.writer.next_id(HouseholdFeedback), "order_id": order["id"],
            "satisfaction": satisfaction,
            "channel": self.rng.choices(list(FEEDBACK_CHANNELS), list(FEEDBACK_CHANNELS.values()))[0],
            "comment": texts.comment(self.rng, satisfaction), "recorded_by_id": None, "recorded_at": at})
        return satisfaction

    # ------------------------------------------------------------ life cycles

    def provider_history(self, item: ItemRef, start: datetime) -> None:
        """Up to three dispatch attempts; the first acceptance is served, evaluated or still running."""
        rng, now = self.rng, self.world.now
        at, tried = start, set()
        for attempt in range(1, MAX_ATTEMPTS + 1):
            ranked = self.candidates(item, tried)
            if not ranked:
                return
            index = rng.choices(range(len(ranked)), weights=propensity(np.arange(len(ranked))).tolist())[0]
            c = ranked[index]
            order = self.order(item, c, attempt, index + 1, at, shown=ranked)
            item.status = "dispatched"
            answer_at = at + timedelta(hours=rng.uniform(1, 40))
            due = order["response_due_at"]
            if answer_at > now:
                return
            if rng.random() < self.acceptance(c):
                self.serve(item, order, c, answer_at)
                return
            if rng.random() < 0.33:
                if due > now:
                    return
                self.move(order, "expired", due, "超时未响应")
                at = due + timedelta(hours=rng.uniform(1, 48))
            else:
                order["responded_at"] = answer_at
                order["decline_reason"] = rng.choice(texts.DECLINE_REASONS)
                self.move(order, "declined", answer_at, order["decline_reason"])
                at = answer_at + timedelta(hours=rng.uniform(1, 48))
            item.status = "open"
            tried.add(c.provider.id)
            if at > now:
                return

    def assignee_for(self, item: ItemRef, provider: ProviderRef) -> int | None:
        """The social worker or cadre who serves (the household's cadre for its pairing unit)."""
        if provider.kind == "unit":
            unit, cadre = self.world.pairings.get(item.household.id, (None, None))
            if unit is provider and cadre:
                return cadre
        return self.rng.choice(provider.staff) if provider.staff else None

    def serve(self, item: ItemRef, order: dict, c: Candidate, accepted_at: datetime,
              assignee: int | None = None) -> None:
        """Acceptance, service with visits, completion and outcomes, as far as the clock has come."""
        rng, now = self.rng, self.world.now
        provider = c.provider
        order["responded_at"] = accepted_at
        order["assignee_id"] = assignee or self.assignee_for(item, provider)
        self.move(order, "accepted", accepted_at)
        item.status = "in_service"
        volunteer = provider if provider.kind == "volunteer" else None
        member = None if volunteer else order["assignee_id"]
        begin = self.visit_time(item, accepted_at + timedelta(days=rng.randint(0, 4)))
        if rng.random() < 0.04 and begin < now:
            self.move(order, "cancelled", begin, rng.choice(CANCEL_REASONS))
            item.status = "open"
            return
        if begin > now - SERVICE_MARGIN:
            planned = begin if begin > now else self.visit_time(item, now)
            self.visit(order, item, planned, done=False, assignee=member, volunteer=volunteer)
            return
        self.move(order, "in_service", begin)
        days = rng.randint(1, 10) if item.frequency == "once" else rng.randint(20, 90)
        end = begin + timedelta(days=days, hours=2)
        self.visit(order, item, begin, done=True, assignee=member, volunteer=volunteer)
        if end > now:
            self.visit(order, item, self.visit_time(item, now), done=False, assignee=member, volunteer=volunteer)
            return
        if days > 7:
            self.visit(order, item, self.visit_time(item, begin + timedelta(days=days // 2)), done=True,
                       assignee=member, volunteer=volunteer)
        self.complete(item, order, end, c.provider.quality, c.fit, c.paired, c.distance, provider.id)

    def complete(self, item: ItemRef, order: dict, end: datetime, quality: float, fit: bool, paired: bool,
                 distance: float, provider_id: int | None) -> None:
        """Completion, the provider's outcome, (often) the village assistant's evaluation and (mostly) the
        household's follow-up."""
        rng, now = self.rng, self.world.now
        order["completed_at"] = end
        self.move(order, "completed", end)
        item.status, item.closed_at = "closed", end
        level = self.satisfaction(quality, fit, paired, distance)
        self.outcome(order, "provider", level + ASSESSMENT_LIFT, min(now, end + timedelta(hours=rng.uniform(1, 48))))
        evaluated_at = end + timedelta(days=rng.uniform(2, 20))
        if rng.random() < 0.45 and evaluated_at < now:
            self.outcome(order, "assistant", level + rng.gauss(0, 0.5), evaluated_at)
            self.move(order, "evaluated", evaluated_at)
        asked_at = end + timedelta(days=rng.uniform(*FEEDBACK_DAYS))
        if rng.random() < FEEDBACK_SHARE and asked_at < now:
            score = self.feedback(order, level, asked_at)
            if provider_id:
                self.rated.append((score, item.household.id, provider_id, asked_at))

    def task_history(self, item: ItemRef, start: datetime, signed: list[ProviderRef] | None = None,
                     begin: datetime | None = None) -> dict | None:
        """A volunteer task: sign-ups until it starts, then visits, records and outcomes."""
        rng, now = self.rng, self.world.now
        pool = self.volunteer_pool.get((item.household.town_id, item.category), [])
        if not pool and signed is None:
            return None
        begin = begin or self.visit_time(item, start + timedelta(days=rng.randint(1, 6)))
        order = self.order(item, None, 1, None, start, due=begin)
        task = {"id": self.world.writer.next_id(VolunteerTask), "order_id": order["id"], "slots": item.slots,
                "taken": 0, "starts_at": begin}
        self.rows[VolunteerTask].append(task)
        item.status = "dispatched"
        if signed is None:
            wanted = rng.choices((item.slots, rng.randint(1, item.slots), 0), (75, 17, 8))[0]
            near = sorted(rng.sample(pool, min(len(pool), 3 * wanted)),
                          key=lambda v: (distance_km(item.household.lat, item.household.lon, v.lat, v.lon), v.id))
            signed = near[:wanted]
        filled_at = start
        for volunteer in signed:
            at = start + (min(begin, now) - start) * rng.uniform(0.05, 0.95)
            filled_at = max(filled_at, at)
            self.rows[TaskSignup].append({"id": self.world.writer.next_id(TaskSignup), "task_id": task["id"],
                                          "volunteer_id": volunteer.volunteer_id, "created_at": at})
        task["taken"] = len(signed)
        if begin > now - SERVICE_MARGIN:  # still taking sign-ups unless full
            if len(signed) == item.slots:
                self.move(order, "accepted", filled_at)
                item.status = "in_service"
                for volunteer in signed:
                    self.visit(order, item, begin, done=False, volunteer=volunteer)
            return order
        if not signed:
            self.move(order, "expired", begin, "无人报名")
            item.status = "open"
            return order
        self.move(order, "accepted", filled_at)
        self.move(order, "in_service", begin)
        for volunteer in signed:
            self.visit(order, item, begin, done=True, volunteer=volunteer)
        quality = sum(v.quality for v in signed) / len(signed)
        fit = any(item.category in v.strengths for v in signed)
        distance = min(distance_km(item.household.lat, item.household.lon, v.lat, v.lon) for v in signed)
        self.complete(item, order, begin + timedelta(hours=2), quality, fit, False, distance, None)
        return order

    def run(self) -> None:
        """Histories for about 30% of the unreserved items, dispatched within the past year."""
        rng, now = self.rng, self.world.now
        for item in self.world.items:
            if item.reserved or rng.random() >= HISTORY_SHARE:
                continue
            earliest = max(item.created_at, now - timedelta(days=365))
            if earliest > now - timedelta(days=2):
                continue
            start = earliest + (now - earliest) * rng.random() ** 1.3
            is_task = item.category in self.world.task_categories
            if is_task and (rng.random() < 0.65 or not self.org_pool.get((item.household.town_id, item.category))):
                if self.task_history(item, start) is not None:
                    continue
            self.provider_history(item, start)

    def write(self) -> None:
        """Insert everything in foreign-key order, household blocks last."""
        w = self.world.writer
        for model in (Order, Impression, OrderEvent, VolunteerTask, TaskSignup, Visit, ServiceRecord, Outcome,
                      HouseholdFeedback):
            w.insert(model, self.rows[model])
        self.write_blocks()

    def write_blocks(self) -> None:
        """A few dozen households (at scale 1) asking not to be served again by a poorly rated provider."""
        rng, w = self.rng, self.world.writer
        wanted = scaled(BLOCKS_AT_SCALE_1, self.world.scale, 1)
        poor = [r for r in self.rated if r[0] <= 2]
        seen, rows = set(), []
        for _, household_id, provider_id, at in rng.sample(poor, len(poor)) or sorted(self.rated)[:1]:
            if len(rows) >= wanted or (household_id, provider_id) in seen:
                continue
            seen.add((household_id, provider_id))
            rows.append({"id": w.next_id(HouseholdBlock), "household_id": household_id, "provider_id": provider_id,
                         "reason": rng.choice(("对服务不满意，要求更换服务方", "多次未按约定上门", "服务对象要求不再由该方服务")),
                         "created_at": at})
        w.insert(HouseholdBlock, rows)
