"""Visits (走访/上门服务), by purpose: who and when (assignees), planning, check-in/out, scheduler jobs.

The names callers use are re-exported here, so `from socialforce.platform.services import visits` is the one import;
pairing quotas are services/quotas.py, visit scoping platform/scoping.py, the household timeline services/households.py.
"""
from socialforce.platform.services.visits.assignees import (
    BUSY,
    Assignee,
    assignee_in_scope,
    assignee_windows,
    conflicts,
    find_assignees,
    order_assignee,
)
from socialforce.platform.services.visits.checkin import (
    CHECKIN_EARLY,
    VISIT_FLAGS,
    check_in,
    check_out,
    plausibility_flags,
    save_notes,
)
from socialforce.platform.services.visits.jobs import generate_recurring_visits, mark_missed, send_reminders
from socialforce.platform.services.visits.planning import (
    MAX_DURATION,
    MAX_SERIES_COUNT,
    MIN_DURATION,
    build_rrule,
    cancel,
    check_reason,
    get_visit,
    occurrences,
    order_visits,
    plan_visit,
    propose_slots,
    reschedule,
    scoped_visits,
    week,
    week_start,
)

__all__ = [
    "BUSY", "CHECKIN_EARLY", "MAX_DURATION", "MAX_SERIES_COUNT", "MIN_DURATION", "VISIT_FLAGS", "Assignee",
    "assignee_in_scope", "assignee_windows", "build_rrule", "cancel", "check_in", "check_out", "check_reason",
    "conflicts", "find_assignees", "generate_recurring_visits", "get_visit", "mark_missed", "occurrences",
    "order_assignee", "order_visits", "plan_visit", "plausibility_flags", "propose_slots", "reschedule",
    "save_notes", "scoped_visits", "send_reminders", "week", "week_start",
]
