"""Village portal (村居协理员): phone-first pages for a village assistant.

Every route of the blueprint is listed in ROUTES below; the views live in the modules it names."""
from socialforce.portals.routing import GET, POST, add_routes
from socialforce.portals.village import views
from socialforce.portals.village.views import bp

ROUTES = [  # (rule, endpoint, view, methods)
    ("/", "home", views.home, GET),
    ("/households/<int:household_id>", "household", views.household, GET),
    ("/households/<int:household_id>/needs", "submit_need", views.submit_need, POST),
    ("/needs", "drafts", views.drafts, GET),
    ("/follow-ups", "follow_ups", views.follow_ups, GET),
    ("/follow-ups/<int:order_id>", "record_follow_up", views.record_follow_up, POST),
]

add_routes(bp, ROUTES)

__all__ = ["bp"]
