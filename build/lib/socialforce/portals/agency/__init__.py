"""Agency portal (social-work agencies).

Every route of the blueprint is listed in ROUTES below; the views live in the modules it names."""
from socialforce.portals import provider
from socialforce.portals.agency import views
from socialforce.portals.agency.views import bp
from socialforce.portals.routing import GET, add_routes

ROUTES = [  # (rule, endpoint, view, methods)
    ("/", "home", views.home, GET),
    ("/contracts", "contracts", views.contracts, GET),
]

add_routes(bp, ROUTES)
provider.register(bp)  # orders, offers, profile, members, visits: the pages agency and unit share

__all__ = ["bp"]
