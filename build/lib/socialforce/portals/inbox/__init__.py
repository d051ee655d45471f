"""The in-app inbox (every logged-in role), notification settings, and the unread badge shown in every portal's navbar.

Every route of the blueprint is listed in ROUTES below; the views live in the modules it names."""
from socialforce.portals.inbox import settings, views
from socialforce.portals.inbox.views import bp
from socialforce.portals.routing import GET, POST, add_routes

ROUTES = [  # (rule, endpoint, view, methods)
    ("/", "index", views.index, GET),
    ("/<int:notification_id>/read", "read", views.read, POST),
    ("/read-all", "read_all", views.read_all, POST),
    ("/failed", "failed", views.failed, GET),
    ("/failed/<int:message_id>/retry", "retry", views.retry, POST),
    ("/settings", "settings", settings.settings, GET),
    ("/settings", "settings_save", settings.settings_save, POST),
]

add_routes(bp, ROUTES)

__all__ = ["bp"]
