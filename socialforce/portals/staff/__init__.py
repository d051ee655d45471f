"""Civil-affairs staff portal (city staff see all towns; town staff their own).

Every route of the blueprint is listed in ROUTES below; the views live in the modules it names."""
from socialforce.portals.routing import FORM, GET, POST, add_routes
from socialforce.portals.staff import (
    audit_log,
    dashboard,
    exports,
    feedback,
    imports,
    items,
    providers,
    views,
    visits,
)
from socialforce.portals.staff.views import bp

ROUTES = [  # (rule, endpoint, view, methods)
    ("/audit", "audit_log", audit_log.audit_log, GET),
    ("/dashboard", "dashboard_page", dashboard.dashboard_page, GET),
    ("/dashboard/export/<key>.<fmt>", "dashboard_export", dashboard.dashboard_export, GET),
    ("/dashboard/list/<figure>", "dashboard_list", dashboard.dashboard_list, GET),
    ("/reports/monthly", "monthly_report", dashboard.monthly_report, GET),
    ("/exports", "exports", exports.export_page, GET),
    ("/export/households.<fmt>", "export_households", exports.export_households, GET),
    ("/export/items.<fmt>", "export_items", exports.export_items, GET),
    ("/export/orders.<fmt>", "export_orders", exports.export_orders, GET),
    ("/follow-ups", "follow_ups", feedback.follow_ups, GET),
    ("/orders/<int:order_id>/follow-up", "record_follow_up", feedback.record_follow_up, POST),
    ("/imports", "imports", imports.import_page, GET),
    ("/imports/template.xlsx", "import_template", imports.import_template, GET),
    ("/imports", "import_upload", imports.import_upload, POST),
    ("/imports/<token>", "import_preview", imports.import_preview, GET),
    ("/imports/<token>/status", "import_status", imports.import_status, GET),
    ("/imports/<token>/errors.<fmt>", "import_errors", imports.import_errors, GET),
    ("/imports/<token>/confirm", "import_confirm", imports.import_confirm, POST),
    ("/households/<int:household_id>/items/new", "item_new", items.item_new, FORM),
    ("/items/<int:item_id>", "item", items.item, GET),
    ("/items/<int:item_id>/dispatch", "item_dispatch", items.item_dispatch, POST),
    ("/orders/<int:order_id>/cancel", "order_cancel", items.order_cancel, POST),
    ("/tasks/<int:task_id>/bring", "task_bring", items.task_bring, POST),
    ("/items/<int:item_id>/close", "item_close", items.item_close, POST),
    ("/matching", "matching_review", items.matching_review, GET),
    ("/matching/dispatch-page", "matching_dispatch_page", items.matching_dispatch_page, POST),
    ("/orders", "orders_board", items.orders_board, GET),
    ("/providers", "providers_list", providers.providers_list, GET),
    ("/providers/<int:provider_id>", "provider", providers.provider, GET),
    ("/providers/<int:provider_id>/background-check", "provider_background_check", providers.provider_background_check, POST),
    ("/providers/<int:provider_id>/certificates/<int:qualification_id>/verify", "provider_certificate_verify", providers.provider_certificate_verify, POST),
    ("/providers/<int:provider_id>/<action>", "provider_action", providers.provider_action, POST),
    ("/", "home", views.home, GET),
    ("/households", "households", views.household_list, GET),
    ("/households/<int:household_id>", "household", views.household, GET),
    ("/members/<int:member_id>/reveal", "reveal", views.reveal, POST),
    ("/calendar", "calendar", visits.calendar, GET),
    ("/visits/<int:visit_id>", "visit", visits.visit_page, GET),
    ("/visits/<int:visit_id>/<action>", "visit_action", visits.visit_post, POST),
    ("/hours", "hours", visits.pending_hours, GET),
    ("/records/<int:record_id>/confirm", "confirm_record", visits.confirm_record, POST),
    ("/records/confirm", "confirm_records", visits.confirm_records, POST),
    ("/quota", "quota", visits.quota, GET),
    ("/households/<int:household_id>/timeline", "timeline", visits.timeline, GET),
    ("/orders/<int:order_id>/evaluate", "evaluate", visits.evaluate, FORM),
]

add_routes(bp, ROUTES)

__all__ = ["bp"]
