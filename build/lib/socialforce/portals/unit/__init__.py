"""Pairing-unit portal.

Every route of the blueprint is listed in ROUTES below; the views live in the modules it names."""
from socialforce.portals import provider
from socialforce.portals.routing import GET, POST, add_routes
from socialforce.portals.unit import households, views
from socialforce.portals.unit.views import bp

ROUTES = [  # (rule, endpoint, view, methods)
    ("/households", "households", households.households, GET),
    ("/households/<int:pairing_id>", "household", households.household, GET),
    ("/households/<int:pairing_id>/visit", "record_visit", households.record_visit, POST),
    ("/", "home", views.home, GET),
]

add_routes(bp, ROUTES)
provider.register(bp)  # orders, offers, profile, members, visits: the pages agency and unit share

__all__ = ["bp"]
