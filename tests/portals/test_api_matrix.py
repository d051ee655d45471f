"""The access matrix of /api/v1: every API route x every demo role's token x scope (read, write, both) is allowed
or 401/403/404 exactly as API_POLICY says, and API_POLICY grants no role more than the portal page it mirrors
(tests/security/support.py). Object scoping as in the portals: an allowed token gets 404 for another tenant's ids
and 200 for its own; a listing shows only the caller's own objects (its total is the size of the caller's scope)."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from socialforce.platform.extensions import db
from socialforce.platform.localtime import today
from socialforce.platform.models import Role
from socialforce.platform.services import api_tokens, offers, volunteers
from tests.portals.api_support import bearer, token_for
from tests.security.filling import discard_uploads, import_token
from tests.security.support import (
    AGENCY,
    UNIT,
    USERS,
    VOLUNTEER,
    WRITING_STAFF,
    allowed_roles,
    foreign_ids,
    leaks,
    owned_ids,
    personal_secrets,
    user,
)

PROVIDER = AGENCY | UNIT
ADMINS = frozenset({Role.agency_admin, Role.unit_admin})
WORKERS = frozenset({Role.social_worker, Role.cadre})
TOKEN_ROLES = frozenset(api_tokens.ROLE_AREA)  # the roles that may hold a token (not the village assistant)
STAFF = WRITING_STAFF & TOKEN_ROLES  # staff holding a token: county and town staff (prefecture staff hold none)

# API endpoint -> (area of its scope, None: any token; the roles that may use it; the portal pages it mirrors)
API_POLICY: dict[str, tuple[str | None, frozenset, tuple[str, ...]]] = {
    "me": (None, TOKEN_ROLES, ("public.account",)),
    "volunteer_tasks": ("volunteer", VOLUNTEER, ("volunteer.tasks",)),
    "volunteer_task_signup": ("volunteer", VOLUNTEER, ("volunteer.task_signup",)),
    "volunteer_task_withdraw": ("volunteer", VOLUNTEER, ("volunteer.task_withdraw",)),
    "volunteer_profile": ("volunteer", VOLUNTEER, ("volunteer.profile",)),
    "volunteer_availability": ("volunteer", VOLUNTEER, ("volunteer.availability_save",)),
    "volunteer_skills": ("volunteer", VOLUNTEER, ("volunteer.profile_save",)),
    "volunteer_certification_add": ("volunteer", VOLUNTEER, ("volunteer.certification_add",)),
    "volunteer_certification_remove": ("volunteer", VOLUNTEER, ("volunteer.certification_remove",)),
    "volunteer_visit_plan": ("volunteer", VOLUNTEER, ("volunteer.plan",)),
    "volunteer_waitlist_join": ("volunteer", VOLUNTEER, ("volunteer.waitlist_join",)),
    "volunteer_waitlist_leave": ("volunteer", VOLUNTEER, ("volunteer.waitlist_leave",)),
    "volunteer_waitlist_confirm": ("volunteer", VOLUNTEER, ("volunteer.waitlist_confirm",)),
    "volunteer_visits": ("volunteer", VOLUNTEER, ("volunteer.calendar",)),
    "volunteer_visit_checkin": ("volunteer", VOLUNTEER, ("volunteer.visit_action",)),
    "volunteer_visit_checkout": ("volunteer", VOLUNTEER, ("volunteer.visit_action",)),
    "volunteer_visit_notes": ("volunteer", VOLUNTEER, ("volunteer.visit_action",)),
    "volunteer_visit_reschedule": ("volunteer", VOLUNTEER, ("volunteer.visit_action",)),
    "volunteer_visit_cancel": ("volunteer", VOLUNTEER, ("volunteer.visit_action",)),
    "volunteer_hours": ("volunteer", VOLUNTEER, ("volunteer.hours",)),
    "provider_orders": ("provider", PROVIDER, ("agency.orders", "unit.orders")),
    "provider_order": ("provider", PROVIDER, ("agency.order", "unit.order")),
    "provider_order_accept": ("provider", ADMINS, ("agency.order_accept", "unit.order_accept")),
    "provider_order_decline": ("provider", ADMINS, ("agency.order_decline", "unit.order_decline")),
    "provider_visit_plan": ("provider", PROVIDER, ("agency.order_visits", "unit.order_visits")),
    "provider_outcome": ("provider", PROVIDER, ("agency.order_visits", "unit.order_visits")),
    "provider_workers": ("provider", ADMINS, ("agency.workers", "unit.cadres")),
    "provider_visits": ("provider", PROVIDER, ("agency.calendar", "unit.calendar")),
    "provider_visit_checkin": ("provider", WORKERS, ("agency.visit_action", "unit.visit_action")),
    "provider_visit_checkout": ("provider", WORKERS, ("agency.visit_action", "unit.visit_action")),
    "provider_visit_notes": ("provider", PROVIDER, ("agency.visit_action", "unit.visit_action")),
    "provider_visit_reschedule": ("provider", PROVIDER, ("agency.visit_action", "unit.visit_action")),
    "provider_visit_cancel": ("provider", PROVIDER, ("agency.visit_action", "unit.visit_action")),
    "provider_offers": ("provider", PROVIDER, ("agency.offers", "unit.offers")),
    "provider_offer_create": ("provider", ADMINS, ("agency.offer_new", "unit.offer_new")),
    "provider_offer_update": ("provider", ADMINS, ("agency.offer_edit", "unit.offer_edit")),
    "provider_offer_pause": ("provider", ADMINS, ("agency.offer_pause", "unit.offer_pause")),
    "provider_offer_resume": ("provider", ADMINS, ("agency.offer_resume", "unit.offer_resume")),
    "staff_households": ("staff", STAFF, ("staff.households",)),
    "staff_household": ("staff", STAFF, ("staff.household",)),
    "staff_item_create": ("staff", STAFF, ("staff.item_new",)),
    "staff_item": ("staff", STAFF, ("staff.item",)),
    "staff_item_ranking": ("staff", STAFF, ("staff.item",)),
    "staff_item_dispatch": ("staff", STAFF, ("staff.item_dispatch",)),
    "staff_item_close": ("staff", STAFF, ("staff.item_close",)),
    "staff_order_cancel": ("staff", STAFF, ("staff.order_cancel",)),
    "staff_orders": ("staff", STAFF, ("staff.orders_board",)),
    "staff_dashboard": ("staff", STAFF, ("staff.dashboard_page",)),
    "staff_import": ("staff", STAFF, ("staff.import_status",)),
    "staff_batch_dispatch": ("staff", STAFF, ("staff.matching_dispatch_page",)),
    "staff_job": ("staff", STAFF, ("staff.job_status",)),
    # the partner systems' endpoints (tests/portals/test_api_partner*.py): no personal token may use the feed, and
    # the client-credentials grant answers a request without a client's id and secret 401, whoever sends it
    "changes": ("partner", frozenset(), ()),
    "oauth_token": (None, frozenset(), ()),
}
CREDENTIALS_GRANT = "oauth_token"
BATCH = "staff_batch_dispatch"  # its body names items: each staff user's own (a foreign item is a 404)
# A valid body for each write, so that a refusal is about the token and never about the body.
BODIES = {
    "volunteer_task_withdraw": {}, "volunteer_availability": {"availability": 7},
    "volunteer_visit_checkin": {}, "volunteer_visit_checkout": {},
    "provider_order_accept": {"assignee_id": 1}, "provider_order_decline": {"reason": "矩阵测试"},
    "provider_visit_plan": {"starts_at": "2030-01-07T09:00:00+08:00"},
    "volunteer_visit_plan": {"starts_at": "2030-01-07T09:00:00+08:00"},
    "volunteer_certification_add": {"code": volunteers.certification_codes()[0], "document_no": "MATRIX-01"},
    "provider_outcome": {"resolved": "no", "goal_attainment": 0, "assessment": 3},
    "provider_visit_checkin": {}, "provider_visit_checkout": {},
    "staff_item_create": {"category_id": 1, "description": "矩阵测试事项"}, "staff_item_dispatch": {"provider_id": 1},
    "staff_item_close": {"reason": "矩阵测试"}, "staff_order_cancel": {"reason": "矩阵测试"},
    "provider_offer_pause": {}, "provider_offer_resume": {},
    **{f"{area}_visit_{action}": body for area in ("volunteer", "provider") for action, body in (
        ("notes", {"notes": "矩阵测试"}), ("cancel", {"reason": "矩阵测试"}),
        ("reschedule", {"starts_at": "2030-01-08T10:00:00+08:00", "reason": "矩阵测试"}))},
    "staff_batch_dispatch": {"item_ids": [1]},
    "oauth_token": {"grant_type": "client_credentials"},  # a form, as the grant takes it
}


def _offer_body(u) -> dict:
    """A valid offer of the user's organisation: its first qualified category, its home town, a month from today."""
    categories = [c.id for c in offers.qualified_categories(u.provider, today())[:1]] if u.provider else [1]
    return {"title": "矩阵测试服务", "category_ids": categories, "town_ids": [u.provider.town_id if u.provider else 1],
            "slots_per_week": 5, "windows": 7, "valid_from": today().isoformat(),
            "valid_to": (today() + timedelta(days=30)).isoformat()}


def _own_certification(u) -> dict:
    volunteer = volunteers.volunteer_of(u)
    held = volunteers.certifications(volunteer) if volunteer else []
    return {"qualification_id": held[0].id if held else 1}


# Writes whose valid body depends on the caller (its own skills, certifications, organisation)
BODY_OF = {
    "volunteer_skills": lambda u: {"skills": (volunteers.volunteer_of(u).skills.split()
                                              if volunteers.volunteer_of(u) else ["daily_care"])},
    "volunteer_certification_remove": _own_certification,
    "provider_offer_create": _offer_body, "provider_offer_update": _offer_body,
}
# The answers an allowed call of a write without URL parameters may give (default 200): a certification is added
# once (409 after), removed once (404 after), an offer is created (201).
NO_PARAM_ANSWERS = {"volunteer_certification_add": {200, 409}, "volunteer_certification_remove": {200, 404},
                    "provider_offer_create": {201}, BATCH: {202}}
# Listings -> (the id kind, the portal whose object rule applies): every listed id must be the caller's own.
LISTINGS = {
    "provider_orders": ("order_id", "agency"), "provider_visits": ("visit_id", "agency"),
    "volunteer_visits": ("visit_id", "volunteer"), "staff_households": ("household_id", "staff"),
    "staff_orders": ("order_id", "staff"), "provider_offers": ("offer_id", "agency"),
}
PORTAL_OF_AREA = {"volunteer": "volunteer", "provider": "agency", "staff": "staff"}
DENIED_BODY_KEYS = ("items", "id", "username", "task_id", "candidates", "headline")


def _api_routes(app) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """(endpoint without the "api." prefix, rule, method, URL parameters) of every /api/v1 operation."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api."):
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                found.append((rule.endpoint.removeprefix("api."), rule.rule, method, tuple(rule.arguments)))
    return sorted(found, key=lambda r: (r[1], r[2]))


def test_the_api_policy_covers_every_route_and_grants_no_more_than_the_portal_page(app):
    endpoints = {endpoint for endpoint, *_ in _api_routes(app)}
    assert endpoints == set(API_POLICY), endpoints ^ set(API_POLICY)
    for endpoint, (_area, roles, pages) in API_POLICY.items():
        portal_roles = set().union(*(allowed_roles(page) for page in pages)) if pages else set()
        assert roles <= portal_roles, f"{endpoint} grants {roles - portal_roles} more than {pages}"
    assert set(BODIES) | set(BODY_OF) == {e for e, _r, m, _p in _api_routes(app) if m == "POST"} - {
        "volunteer_task_signup", "volunteer_waitlist_join", "volunteer_waitlist_leave", "volunteer_waitlist_confirm"}


def _call(client, method: str, rule: str, endpoint: str, value: int | str | None, headers: dict,
          body: dict | None = None):
    url = re.sub(r"<[^>]+>", str(value), rule) if value is not None else rule
    if endpoint == CREDENTIALS_GRANT:
        return client.open(url, method=method, data=BODIES[endpoint], headers=headers)
    if body is None and method == "POST":
        body = BODIES.get(endpoint)
    return client.open(url, method=method, json=body, headers=headers)


@pytest.mark.slow
@pytest.mark.once
def test_every_route_for_every_roles_token_and_scope_matches_the_policy(demo, app, client):
    found = personal_secrets()
    uploads = {name: import_token(user(name)) for name in ("city", "town1", "town2")}  # an import is its uploader's
    db.session.commit()
    try:
        _walk(app, client, found, uploads)
    finally:
        discard_uploads(uploads)


def _walk(app, client, found: set[str], uploads: dict[str, str]) -> None:
    routes = _api_routes(app)
    failures: list[str] = []
    cells = 0

    def expect(cell: str, response, allowed: set[int]) -> None:
        nonlocal cells
        cells += 1
        text = response.get_data(as_text=True)
        if response.status_code not in allowed:
            failures.append(f"{cell}: {response.status_code} not in {sorted(allowed)} {text[:160]}")
        if response.status_code in (401, 403, 404):
            body = response.get_json(force=True, silent=True) or {}
            if response.headers.get("Content-Type") != "application/problem+json" or any(
                    k in body for k in DENIED_BODY_KEYS):
                failures.append(f"{cell}: a refusal that is no bare problem: {text[:160]}")
        if leaks(text, found):
            failures.append(f"{cell}: personal data in the answer")

    for endpoint, rule, method, _params in routes:  # no token at all (and no client credentials)
        expect(f"anonymous {method} {rule}", _call(client, method, rule, endpoint, 1, {}), {401})

    for username in USERS:
        u = user(username)
        if u.role not in TOKEN_ROLES:
            continue
        area = api_tokens.ROLE_AREA[u.role]
        tokens = {"read": token_for(username, [f"{area}:read"]), "write": token_for(username, [f"{area}:write"]),
                  "both": token_for(username)}
        for variant, secret in tokens.items():
            headers = bearer(secret)
            for endpoint, rule, method, params in sorted(routes, key=lambda r: r[2]):  # reads before writes
                need, roles, _pages = API_POLICY[endpoint]
                has_scope = need is None or f"{need}:{'read' if method == 'GET' else 'write'}" in (
                    api_tokens.allowed_scopes(u) if variant == "both" else [f"{area}:{variant}"])
                allowed = u.role in roles and has_scope
                cell = f"{username}/{variant} {method} {rule}"
                if endpoint == CREDENTIALS_GRANT:  # a personal token is no client credential
                    expect(cell, _call(client, method, rule, endpoint, None, headers), {401})
                    continue
                own_body = BODY_OF[endpoint](u) if endpoint in BODY_OF else None
                if not params:
                    body = own_body
                    if endpoint == BATCH and u.role in STAFF:  # a batch of the caller's own item: queued
                        body = {"item_ids": owned_ids("item_id", u, "staff")[:1]}
                    response = _call(client, method, rule, endpoint, None, headers, body)
                    if not allowed:
                        expect(cell, response, {403})
                        continue
                    expect(cell, response, NO_PARAM_ANSWERS.get(endpoint, {200}))
                    if endpoint in LISTINGS and response.status_code == 200:
                        kind, portal = LISTINGS[endpoint]
                        mine = set(owned_ids(kind, u, portal))
                        body = response.get_json()
                        shown = {row["id"] for row in body["items"]}
                        if not shown <= mine or body["total"] != len(mine):
                            failures.append(f"{cell}: shows {sorted(shown - mine)} beyond its own; total "
                                            f"{body['total']} != {len(mine)}")
                    continue
                kind, portal = params[0], PORTAL_OF_AREA[need]
                if kind == "token":
                    own = [uploads[username]] if username in uploads else []
                    foreign = [token for name, token in uploads.items() if name != username][:1]
                else:
                    own, foreign = owned_ids(kind, u, portal)[:1], foreign_ids(kind, u, portal, limit=1)
                if not allowed:
                    expect(cell, _call(client, method, rule, endpoint, (own or [1])[0], headers, own_body), {403})
                    continue
                for value in own:
                    response = _call(client, method, rule, endpoint, value, headers, own_body)
                    if method == "GET":
                        expect(f"{cell} own {value}", response, {200})
                    elif kind == "task_id":  # every task is a volunteer's to try: the answer is about the task
                        expect(f"{cell} task {value}", response, {200, 404, 409, 422})
                    else:
                        expect(f"{cell} own {value}", response, {200, 201, 409, 422})
                for value in foreign:
                    expect(f"{cell} foreign {value}",
                           _call(client, method, rule, endpoint, value, headers, own_body), {404})
    assert not failures, "\n".join(failures[:40]) + f"\n({len(failures)} of {cells} cells)"
    assert cells > 900
