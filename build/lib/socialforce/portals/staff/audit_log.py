"""Staff audit-log viewer: the append-only trail, newest first, filtered by action, actor and date range.

Scope (decided here, enforced in services/audit.py `scope_filter`): city staff read every row; town staff read the rows
about objects of their own town (households, members, service items, orders, visits, visit series, service records,
providers, their town's users) and the rows of actions by their town's users. Rows that belong to no town (other
users' logins, exports, system jobs) are city staff's only. Nothing is decrypted here: `detail` never holds personal
data by rule, and any long digit run in it (a phone or ID typed into a reason) is masked before display anyway.
"""
from __future__ import annotations

import re

from flask import render_template, request
from flask_login import current_user

from socialforce.platform.services import audit
from socialforce.portals.page_helpers import day_range_args, paginated

DIGITS_RE = re.compile(r"\d{7,}[Xx]?")
HIDDEN_DETAIL_KEYS = frozenset({"account"})  # keyed hashes of attempted usernames: meaningless to people
OBJECT_LINKS = {"provider": ("staff.provider", "provider_id"), "household": ("staff.household", "household_id"),
                "service_item": ("staff.item", "item_id"), "visit": ("staff.visit", "visit_id"),
                "pairing": ("staff.pairing_edit", "pairing_id")}
MAX_VALUE_LENGTH = 120


def mask_digits(text: str) -> str:
    """Mask every run of 7+ digits (a phone or resident ID), keeping only its last 2-4 characters."""
    def _mask(match: re.Match) -> str:
        run = match.group(0)
        keep = 4 if len(run) >= 11 else 2
        return "*" * (len(run) - keep) + run[-keep:]

    return DIGITS_RE.sub(_mask, text)


def detail_items(detail: dict | None) -> list[tuple[str, str]]:
    """The detail of an audit row as (key, text) pairs for display, masked and shortened."""
    if not detail:
        return []
    items = []
    for key, value in sorted(detail.items()):
        if key in HIDDEN_DETAIL_KEYS:
            continue
        text = mask_digits(str(value))
        items.append((key, text if len(text) <= MAX_VALUE_LENGTH else text[:MAX_VALUE_LENGTH] + "…"))
    return items


def audit_log():
    """The audit trail in scope, newest first; filters: action, actor, from and to dates (local days)."""
    errors: dict[str, str] = {}
    since, until = day_range_args(errors)
    action = (request.args.get("action") or "").strip()[:40] or None
    query = audit.log_query(current_user, action, request.args.get("actor"), since, until)
    page = paginated(query)
    return render_template("staff/audit/list.html", page=page, actions=audit.actions(), errors=errors,
                           detail_items=detail_items, object_links=OBJECT_LINKS,
                           city=current_user.town_id is None), 400 if errors else 200
