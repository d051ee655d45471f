"""Public pages: home, login/logout, language switch, volunteer sign-up, the household's satisfaction link.

Every route of the blueprint is listed in ROUTES below; the views live in the modules it names."""
from socialforce.portals.public import account, feedback, views
from socialforce.portals.public.views import bp
from socialforce.portals.routing import FORM, GET, POST, add_routes

ROUTES = [  # (rule, endpoint, view, methods)
    ("/account/password", "change_password", account.change_password, FORM),
    ("/", "index", views.index, GET),
    ("/login", "login", views.login, FORM),
    ("/logout", "logout", views.logout, POST),
    ("/lang/<code>", "set_language", views.set_language, POST),
    ("/volunteer-signup", "volunteer_signup", views.volunteer_signup, FORM),
    ("/f/<token>", "household_feedback", feedback.household_feedback, FORM),
]

add_routes(bp, ROUTES)

__all__ = ["bp"]
