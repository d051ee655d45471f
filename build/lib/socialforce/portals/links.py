"""The portal pages notifications link to (platform/links.py): the one place that maps a subject to its page."""
from __future__ import annotations

from flask import Flask, current_app

from socialforce.platform import links
from socialforce.platform.extensions import db
from socialforce.platform.models import MemberRole, Order, ProviderKind, ProviderMember, Visit


def _path(endpoint: str, **values) -> str:
    """A page's site-relative path, outside any request (the scheduler's jobs notify too)."""
    return current_app.url_map.bind("").build(endpoint, values)


def _assignee_visit(visit: Visit) -> str:
    """The visit's page in its assignee's portal: volunteer, unit (cadres) or agency (social workers)."""
    if visit.volunteer_id is not None:
        return _path("volunteer.visit", visit_id=visit.id)
    member = db.session.get(ProviderMember, visit.assignee_id)
    return _path(f"{'unit' if member.role == MemberRole.cadre else 'agency'}.visit", visit_id=visit.id)


def _provider_order(order: Order) -> str:
    """The order's page in its provider's portal: agency or unit."""
    return _path(f"{'agency' if order.provider.kind == ProviderKind.agency else 'unit'}.order", order_id=order.id)


def reset_link_path(token: str) -> str:
    """The path of a one-time set-password link (printed by create-admin, shown to a manager once)."""
    return _path("public.reset_link", token=token)


def init_app(app: Flask) -> None:
    """Register the path of every page a notification can point to."""
    links.register("assignee_visit", _assignee_visit)
    links.register("provider_order", _provider_order)
    links.register("staff_visit", lambda visit: _path("staff.visit", visit_id=visit.id))
    links.register("staff_item", lambda item: _path("staff.item", item_id=item.id))
    links.register("staff_provider", lambda provider_id: _path("staff.provider", provider_id=provider_id))
    links.register("volunteer_home", lambda _: _path("volunteer.home"))
    links.register("volunteer_tasks", lambda _: _path("volunteer.tasks"))
    links.register("volunteer_task", lambda task_id: _path("volunteer.task", task_id=task_id))
    links.register("staff_hours", lambda _: _path("staff.hours"))
    links.register("staff_village_needs", lambda _: _path("staff.drafts"))
    links.register("staff_certificates_awaiting", lambda _: _path("staff.providers_list", certificates="awaiting"))
    links.register("village_household", lambda household_id: _path("village.household", household_id=household_id))
