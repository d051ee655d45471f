"""The provider portal: the pages a social-work agency and a pairing unit share (orders, capacity offers, profile,
members, visits) and their templates.

`register(bp)` adds them to the agency or unit blueprint under the same endpoint names, so `url_for(f"{portal}.x")`
works in either; each view reads the portal from `request.blueprint`. `templates` is a route-free blueprint the
app registers only to serve `templates/` (`provider/...` pages, and `visits/...`: the visit page and macros the
staff and volunteer portals render too).
"""
from __future__ import annotations

from flask import Blueprint

from socialforce.platform.models import MemberRole
from socialforce.portals.provider import members, offers, orders, profile, visits
from socialforce.portals.provider.access import WORKER_ROLES
from socialforce.portals.routing import FORM, GET, POST, Route, add_routes

templates = Blueprint("provider", __name__, template_folder="templates")

ROUTES = [  # (rule, endpoint, view, methods)
    ("/orders", "orders", orders.orders, GET),
    ("/orders/<int:order_id>", "order", orders.order, GET),
    ("/orders/<int:order_id>/accept", "order_accept", orders.order_accept, POST),
    ("/orders/<int:order_id>/decline", "order_decline", orders.order_decline, POST),
    ("/orders/<int:order_id>/visits", "order_visits", visits.order_visits, FORM),
    ("/offers", "offers", offers.offer_list, GET),
    ("/offers/new", "offer_new", offers.offer_new, FORM),
    ("/offers/<int:offer_id>/edit", "offer_edit", offers.offer_edit, FORM),
    ("/offers/<int:offer_id>/pause", "offer_pause", offers.offer_pause, POST),
    ("/offers/<int:offer_id>/resume", "offer_resume", offers.offer_resume, POST),
    ("/profile", "profile", profile.profile, GET),
    ("/profile/edit", "profile_edit", profile.profile_edit, FORM),
    ("/calendar", "calendar", visits.calendar, GET),
    ("/visits/<int:visit_id>", "visit", visits.visit_page, GET),
    ("/visits/<int:visit_id>.ics", "visit_ics", visits.visit_ics, GET),
    ("/visits/<int:visit_id>/<action>", "visit_action", visits.visit_post, POST),
]


def member_routes(role: MemberRole) -> list[Route]:
    """The social-worker (agency) or cadre (unit) pages: /workers/... or /cadres/..."""
    segment, param, stem = members.MEMBER_PAGES[role]
    return [(f"/{segment}", segment, members.member_list, GET),
            (f"/{segment}/new", f"{stem}_new", members.member_new, FORM),
            (f"/{segment}/<int:{param}>/edit", f"{stem}_edit", members.member_edit, FORM),
            (f"/{segment}/<int:{param}>/status", f"{stem}_status", members.member_status, POST),
            (f"/{segment}/<int:{param}>/reset", f"{stem}_reset", members.member_reset, POST)]


def register(bp: Blueprint) -> None:
    """Add every provider page to the agency or unit blueprint."""
    add_routes(bp, ROUTES + member_routes(WORKER_ROLES[bp.name]))
