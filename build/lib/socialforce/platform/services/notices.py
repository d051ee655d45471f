"""Who is told about which event: the one table from order, visit and registration events to notices.

`order_event` is called by orders.transition, the one function that records every order state change, so every
transition that concerns someone tells them; visit planning calls `visit_event`, sign-up `registration_pending`.
The actor is never told about their own action.

| event                          | notice                  | who                                                      |
|--------------------------------|-------------------------|----------------------------------------------------------|
| order dispatched to a provider | order_dispatched        | the provider's users                                     |
| order published as a task      | task_published          | approved volunteers whose active offer the item fits     |
| order dispatched again         | order_redispatched      | the referring staff (after a decline or expiry)           |
| order accepted                 | order_accepted          | the referring staff                                      |
| order declined                 | order_declined          | the referring staff                                      |
| order expired                  | order_expired           | the referring staff and the provider's users             |
| order completed                | order_completed         | the referring staff; the household's village assistants  |
| order cancelled                | order_cancelled         | the provider's users, the volunteers signed up           |
| visit planned                  | visit_scheduled         | the visit's assignee (worker, cadre or volunteer)        |
| visit moved                    | visit_rescheduled       | the visit's assignee                                     |
| visit cancelled                | visit_cancelled         | the visit's assignee                                     |
| volunteer signs up             | volunteer_registration_pending | the town's staff                                  |
| visit missed (visits/jobs.py)  | visit_missed            | the town's staff; the household's village assistants     |
| volunteer adds a certificate   | certification_pending   | the volunteer's town staff (once until read)             |
| volunteer checks out of a visit| hours_pending           | the household's town staff (once until read)             |
| village assistant records need | village_need_pending    | the household's town staff (once until read)             |

The three "awaiting you" kinds (AWAITING_KINDS) name no record: they say that something in the town waits on a
staff page. A staff user who still has an unread notice of that kind gets no other, so a hundred check-outs in an
afternoon make one notice, not a hundred; once it is read, the next record sends a new one.

The referring staff are the active staff user who registered the household's service item; for an item without
one (imported, or its author left), the town's staff (the city's staff if the town has none).
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa

from socialforce.matching.check import pair_problems
from socialforce.matching.types import Context
from socialforce.platform import links
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    Notification,
    Order,
    OrderState,
    Provider,
    ProviderKind,
    ProviderStatus,
    Role,
    ServiceOffer,
    TaskSignup,
    Town,
    User,
    Visit,
    Volunteer,
    VolunteerTask,
    utcnow,
)
from socialforce.platform.models.offers import offer_towns
from socialforce.platform.services import notifications

S = OrderState
MAX_TASK_RECIPIENTS = 200  # volunteers told about one new task at most (the best-fitting first is not ranked)
STAFF_ROLES = (Role.town_staff, Role.city_staff)
AWAITING_KINDS = {  # kind -> the links subject of the staff page where the records wait
    "certification_pending": "staff_certificates_awaiting",
    "hours_pending": "staff_hours",
    "village_need_pending": "staff_village_needs",
}


# --- audiences ------------------------------------------------------------------------------------------------


def referring_staff(order: Order) -> list[int]:
    """The staff user who registered the order's item, if still active; else the town's staff."""
    item = order.item
    if item.created_by_id is not None:
        author = db.session.scalar(sa.select(User.id).where(
            User.id == item.created_by_id, User.active, User.role.in_(STAFF_ROLES)))
        if author is not None:
            return [author]
    return notifications.town_staff_ids(item.household.town_id)


def provider_users(order: Order) -> list[int]:
    """The active users of the order's provider (none for a volunteer task)."""
    return notifications.provider_user_ids(order.provider_id) if order.provider_id is not None else []


def village_assistants(order: Order) -> list[int]:
    """The active village assistants of the order's household's village."""
    return village_assistant_ids(order.item.household.village_id)


def village_assistant_ids(village_id: int) -> list[int]:
    """The active village assistants (村居协理员) of a village."""
    return list(db.session.scalars(sa.select(User.id).where(
        User.role == Role.village_assistant, User.village_id == village_id, User.active).order_by(User.id)))


def signed_up_volunteers(order: Order) -> list[int]:
    """The active logins of volunteers signed up for the order's task."""
    return list(db.session.scalars(
        sa.select(User.id).join(Volunteer, Volunteer.provider_id == User.provider_id)
        .join(TaskSignup, TaskSignup.volunteer_id == Volunteer.id)
        .join(VolunteerTask, VolunteerTask.id == TaskSignup.task_id)
        .where(VolunteerTask.order_id == order.id, User.active, User.role == Role.volunteer)))


def fitting_volunteers(order: Order, now: datetime | None = None) -> list[int]:
    """Active logins of approved volunteers with an active offer covering the item's town whose offer the item
    fits (the matching engine's hard constraints: category, qualification, coverage, windows, places left)."""
    from socialforce.platform.services import (
        matching,  # imports the ranker; loaded only when a task is published
    )

    item = order.item
    on = (now or utcnow()).date()
    town_id = item.household.town_id
    provider_ids = list(db.session.scalars(
        sa.select(Provider.id).where(Provider.kind == ProviderKind.volunteer,
                                     Provider.status == ProviderStatus.approved,
                                     sa.or_(Provider.town_id == town_id, Provider.id.in_(
                                         sa.select(ServiceOffer.provider_id).join(
                                             offer_towns, offer_towns.c.offer_id == ServiceOffer.id)
                                         .where(offer_towns.c.town_id == town_id))))))
    if not provider_ids:
        return []
    offers = matching.load_offers(on, provider_ids, kinds=(ProviderKind.volunteer,))
    engine_item = matching.load_items([item.id], on)[0]
    context, rules = Context(on_date=on), matching.rules()
    fits = sorted({o.provider_id for o in offers if not pair_problems(engine_item, o, context, rules)})
    if not fits:
        return []
    return list(db.session.scalars(
        sa.select(User.id).where(User.provider_id.in_(fits), User.role == Role.volunteer, User.active)
        .order_by(User.id).limit(MAX_TASK_RECIPIENTS)))


# --- the table ------------------------------------------------------------------------------------------------


def _order_params(order: Order) -> dict:
    return {"order_id": order.id, "item_id": order.item_id, "category": order.item.category.code,
            "town": order.item.household.town.code}


def _task_params(order: Order) -> dict:
    task_id = db.session.scalar(sa.select(VolunteerTask.id).where(VolunteerTask.order_id == order.id))
    return {**_order_params(order), "task_id": task_id}


def _staff_link(order: Order) -> str:
    return links.to("staff_item", order.item)


def _provider_link(order: Order) -> str:
    return links.to("provider_order", order)


def _volunteer_link(order: Order) -> str:
    return links.to("volunteer_tasks")


def _village_link(order: Order) -> str:
    return links.to("village_household", order.item.household_id)


Audience = Callable[[Order], list[int]]
Rule = tuple[str, Audience, Callable[[Order], str], Callable[[Order], bool]]


def _always(order: Order) -> bool:
    return True


def _to_provider(order: Order) -> bool:
    return order.provider_id is not None


def _is_task(order: Order) -> bool:
    return order.provider_id is None


def _again(order: Order) -> bool:
    return order.attempt > 1


ORDER_NOTICES: dict[OrderState, tuple[Rule, ...]] = {
    S.dispatched: (("order_dispatched", provider_users, _provider_link, _to_provider),
                   ("task_published", fitting_volunteers, _volunteer_link, _is_task),
                   ("order_redispatched", referring_staff, _staff_link, _again)),
    S.accepted: (("order_accepted", referring_staff, _staff_link, _always),),
    S.declined: (("order_declined", referring_staff, _staff_link, _always),),
    S.expired: (("order_expired", referring_staff, _staff_link, _always),
                ("order_expired", provider_users, _provider_link, _to_provider)),
    S.completed: (("order_completed", referring_staff, _staff_link, _always),
                  ("order_completed", village_assistants, _village_link, _always)),
    S.cancelled: (("order_cancelled", provider_users, _provider_link, _to_provider),
                  ("order_cancelled", signed_up_volunteers, _volunteer_link, _is_task)),
}


def order_event(order: Order, to: OrderState, actor: User | None) -> int:
    """Tell the people an order's move to `to` concerns (ORDER_NOTICES); returns how many were told."""
    told = 0
    for kind, audience, link, applies in ORDER_NOTICES.get(OrderState(to), ()):
        if not applies(order):
            continue
        params = _task_params(order) if kind == "task_published" else _order_params(order)
        if kind == "order_redispatched":
            params["attempt"] = order.attempt
        user_ids = [u for u in audience(order) if actor is None or u != actor.id]
        told += len(notifications.notify(user_ids, kind, params, link(order)))
    return told


def visit_event(visit: Visit, kind: str, actor: User | None) -> int:
    """Tell a visit's assignee it was scheduled, moved or cancelled (not when they did it themselves)."""
    from socialforce.platform.services.visits.assignees import Assignee

    params = {"visit_id": visit.id, "order_id": visit.order_id, "category": visit.order.item.category.code,
              "when": visit.starts_at.isoformat(timespec="minutes")}
    user_ids = [u for u in Assignee.of(visit).user_ids() if actor is None or u != actor.id]
    return len(notifications.notify(user_ids, kind, params, links.to("assignee_visit", visit)))


def visit_missed(visit: Visit, params: dict) -> int:
    """Tell the town's staff and the household's village assistants that a planned visit was missed."""
    household = visit.order.item.household
    told = notifications.notify_town_staff(household.town_id, "visit_missed", params, links.to("staff_visit", visit))
    told += notifications.notify(village_assistant_ids(household.village_id), "visit_missed", params,
                                 links.to("village_household", household.id))
    return len(told)


def registration_pending(provider_id: int, town: Town) -> int:
    """Tell the town's staff that a volunteer registration awaits their review."""
    return len(notifications.notify_town_staff(town.id, "volunteer_registration_pending",
                                               {"provider_id": provider_id, "town": town.code},
                                               links.to("staff_provider", provider_id)))



def awaiting_review(kind: str, town: Town) -> int:
    """Tell the town's staff that records of `kind` (AWAITING_KINDS) await them, once until read: a staff user
    with an unread notice of this kind is not told again. Returns how many were told."""
    staff = notifications.town_staff_ids(town.id)
    if not staff:
        return 0
    unread = set(db.session.scalars(sa.select(Notification.user_id).where(
        Notification.user_id.in_(staff), Notification.kind == kind, Notification.read_at.is_(None))))
    return len(notifications.notify([u for u in staff if u not in unread], kind, {"town": town.code},
                                    links.to(AWAITING_KINDS[kind])))
