"""Volunteer portal.

Every route of the blueprint is listed in ROUTES below; the views live in the modules it names."""
from socialforce.portals.routing import FORM, GET, POST, add_routes
from socialforce.portals.volunteer import profile, tasks, views, visits
from socialforce.portals.volunteer.views import bp

ROUTES = [  # (rule, endpoint, view, methods)
    ("/profile", "profile", profile.profile, GET),
    ("/profile", "profile_save", profile.profile_save, POST),
    ("/profile/availability", "availability_save", profile.availability_save, POST),
    ("/profile/certifications", "certification_add", profile.certification_add, POST),
    ("/profile/certifications/remove", "certification_remove", profile.certification_remove, POST),
    ("/tasks", "tasks", tasks.tasks, GET),
    ("/tasks/<int:task_id>", "task", tasks.task_page, GET),
    ("/tasks/<int:task_id>/signup", "task_signup", tasks.task_signup, POST),
    ("/tasks/<int:task_id>/waitlist", "waitlist_join", tasks.waitlist_join, POST),
    ("/tasks/<int:task_id>/waitlist/leave", "waitlist_leave", tasks.waitlist_leave, POST),
    ("/tasks/<int:task_id>/waitlist/confirm", "waitlist_confirm", tasks.waitlist_confirm, POST),
    ("/tasks/<int:task_id>/withdraw", "task_withdraw", tasks.task_withdraw, FORM),
    ("/", "home", views.home, GET),
    ("/calendar", "calendar", visits.calendar, GET),
    ("/tasks/<int:order_id>/plan", "plan", visits.plan, FORM),
    ("/visits/<int:visit_id>", "visit", visits.visit_page, GET),
    ("/visits/<int:visit_id>.ics", "visit_ics", visits.visit_ics, GET),
    ("/tasks/<int:order_id>.ics", "task_ics", visits.task_ics, GET),
    ("/visits/<int:visit_id>/<action>", "visit_action", visits.visit_action_post, POST),
    ("/hours", "hours", visits.hours_page, GET),
    ("/hours/certificate", "certificate", visits.certificate, GET),
    ("/hours/certificate.pdf", "certificate_pdf", visits.certificate_pdf, GET),
]

add_routes(bp, ROUTES)

__all__ = ["bp"]
