"""Public pages: home, login/logout, language switch, volunteer sign-up, the household's satisfaction link.

Every route of the blueprint is listed in ROUTES below; the views live in the modules it names."""
from socialforce.portals.public import account, calendar, feedback, recovery, tokens, verify, views
from socialforce.portals.public.views import bp
from socialforce.portals.routing import FORM, GET, POST, add_routes

ROUTES = [  # (rule, endpoint, view, methods)
    ("/account", "account", account.account, GET),
    ("/account/contact", "contact_start", account.contact_start, POST),
    ("/account/contact/confirm", "contact_confirm", account.contact_confirm, POST),
    ("/account/password", "change_password", account.change_password, FORM),
    ("/forgot-password", "forgot_password", recovery.forgot_password, FORM),
    ("/reset-code", "reset_code", recovery.reset_code, FORM),
    ("/reset/<token>", "reset_link", recovery.reset_link, FORM),
    ("/", "index", views.index, GET),
    ("/login", "login", views.login, FORM),
    ("/logout", "logout", views.logout, POST),
    ("/lang/<code>", "set_language", views.set_language, POST),
    ("/volunteer-signup", "volunteer_signup", views.volunteer_signup, FORM),
    ("/account/calendar", "calendar_settings", calendar.settings, FORM),
    ("/calendar/<feed_token>.ics", "calendar_feed", calendar.feed, GET),
    ("/account/tokens", "tokens", tokens.tokens, FORM),
    ("/account/tokens/<int:token_id>/revoke", "token_revoke", tokens.token_revoke, POST),
    ("/verify", "verify_form", verify.verify_form, GET),
    ("/verify/<number>", "verify", verify.verify, GET),
    ("/f/<token>", "household_feedback", feedback.household_feedback, FORM),
]

add_routes(bp, ROUTES)

__all__ = ["bp"]
