"""Independent checker: re-evaluates every hard constraint and capacity from the raw inputs.

It shares no code with the index's candidate structures: only the plain Item/Offer/Context values,
the Rules and the distance definition in `geo`.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from socialforce.matching.geo import distance_km
from socialforce.matching.taxonomy import DEFAULT_RULES, Rules
from socialforce.matching.types import Assignment, Context, Item, Offer


@dataclass(frozen=True)
class Violation:
    """One broken rule: the rule's code, the item and offer concerned (0 when not applicable)."""

    rule: str
    item_id: int
    offer_id: int


def pair_problems(item: Item, offer: Offer, context: Context, rules: Rules = DEFAULT_RULES) -> list[str]:
    """Codes of the hard constraints the pair breaks (empty list: eligible)."""
    problems = []
    if item.category not in offer.categories:
        problems.append("category")
    if not offer.valid_from <= context.on_date <= offer.valid_to:
        problems.append("validity")
    if item.town_id not in offer.towns and not (
            offer.radius_km > 0 and distance_km(item.lat, item.lon, offer.lat, offer.lon) <= offer.radius_km):
        problems.append("coverage")
    required = rules.required(item.category)
    if required and not required & offer.qualifications:
        problems.append("qualification")
    if item.minor and offer.provider_kind in rules.minor_check_kinds and not offer.background_checked:
        problems.append("background_check")
    if not item.windows & offer.windows:
        problems.append("availability")
    if offer.slots_left <= 0:
        problems.append("capacity")
    if (item.id, offer.provider_id) in context.exclusions:
        problems.append("exclusion")
    if (item.household_id, offer.provider_id) in context.household_blocks:
        problems.append("household_block")
    return problems


def violation_list(items: Sequence[Item], offers: Sequence[Offer], context: Context, assignment: Assignment,
                   rules: Rules = DEFAULT_RULES) -> list[Violation]:
    """Every violation in the assignment: per pair, per item demand (too many providers, or a team served
    short without `partial_ok`), per offer capacity, a provider twice for one item."""
    item_by_id = {it.id: it for it in items}
    offer_by_id = {o.id: o for o in offers}
    out: list[Violation] = []
    per_item: Counter[int] = Counter()
    per_offer: Counter[int] = Counter()
    seen: set[tuple[int, int]] = set()
    for item_id, offer_id in assignment.pairs:
        item, offer = item_by_id.get(item_id), offer_by_id.get(offer_id)
        if item is None or offer is None:
            out.append(Violation("unknown", item_id, offer_id))
            continue
        out.extend(Violation(rule, item_id, offer_id) for rule in pair_problems(item, offer, context, rules))
        if (item_id, offer.provider_id) in seen:
            out.append(Violation("duplicate_provider", item_id, offer_id))
        seen.add((item_id, offer.provider_id))
        per_item[item_id] += 1
        per_offer[offer_id] += 1
    out.extend(Violation("item_demand", i, 0) for i, n in sorted(per_item.items())
               if n > item_by_id[i].slots_needed)
    out.extend(Violation("short_team", i, 0) for i, n in sorted(per_item.items())
               if n < item_by_id[i].slots_needed and item_by_id[i].needs_whole_team)
    out.extend(Violation("offer_capacity", 0, o) for o, n in sorted(per_offer.items())
               if n > offer_by_id[o].slots_left)
    return out


def violations(items: Sequence[Item], offers: Sequence[Offer], context: Context, assignment: Assignment,
               rules: Rules = DEFAULT_RULES) -> int:
    """The number of violations in the assignment (0 when every hard constraint and capacity holds)."""
    return len(violation_list(items, offers, context, assignment, rules))
