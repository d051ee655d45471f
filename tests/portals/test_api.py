"""The /api/v1 JSON API: bearer tokens only, scopes and object scoping as in the portals, problem details in the
caller's language, field paths on 422, ISO 8601 times with +08:00, Idempotency-Key on writes."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from socialforce.platform.extensions import db
from socialforce.platform.models import (
    ApiToken,
    AuditLog,
    Household,
    Order,
    OrderState,
    ProviderMember,
    TaskSignup,
    VolunteerTask,
    utcnow,
)
from socialforce.platform.services import api_tokens
from tests.portals.api_support import bearer, token_for, user
from tests.security.filling import client_for
from tests.security.support import leaks, personal_secrets

PROBLEM = "application/problem+json"
OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$")


def _is_problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == PROBLEM
    body = response.get_json(force=True)
    assert body["status"] == status and body["title"]
    return body


def test_me_answers_the_token_user_without_setting_a_cookie(demo, client):
    secret = token_for("volunteer1", ["volunteer:read"])
    response = client.get("/api/v1/me", headers=bearer(secret))
    assert response.status_code == 200
    body = response.get_json()
    assert body["username"] == "volunteer1" and body["scopes"] == ["volunteer:read"]
    assert OFFSET.match(body["token_expires_at"])
    assert "Set-Cookie" not in response.headers
    db.session.expire_all()
    token = db.session.scalar(sa.select(ApiToken).where(ApiToken.user_id == user("volunteer1").id))
    assert token.last_used_at is not None
    assert secret not in (token.token_hash, token.prefix)  # only a keyed hash is stored


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer sf_nonsense", "Basic dm9sdW50ZWVyMTpwYXNz", "bearer x"])
def test_a_missing_or_unknown_token_gets_401_with_no_data(demo, client, header):
    headers = {"Authorization": header} if header else {}
    body = _is_problem(client.get("/api/v1/me", headers=headers), 401)
    assert "username" not in body


def test_revoked_and_expired_tokens_get_401(demo, client):
    revoked = token_for("agency1")
    expired = token_for("agency2")
    now = utcnow()
    api_tokens.revoke(user("agency1"), db.session.scalar(sa.select(ApiToken.id).where(
        ApiToken.user_id == user("agency1").id)))
    db.session.execute(sa.update(ApiToken).where(ApiToken.user_id == user("agency2").id)
                       .values(expires_at=now - timedelta(seconds=1)))
    db.session.commit()
    for secret in (revoked, expired):
        body = _is_problem(client.get("/api/v1/provider/orders", headers=bearer(secret)), 401)
        assert "items" not in body


def test_a_logged_in_browser_session_does_not_authenticate_the_api(demo, app):
    browser = client_for(app, "city")
    _is_problem(browser.get("/api/v1/staff/households"), 401)


def test_out_of_scope_and_other_area_tokens_get_403_with_no_data(demo, client):
    read_only = token_for("volunteer1", ["volunteer:read"])
    task_id = db.session.scalar(sa.select(VolunteerTask.id).limit(1)) or 1
    before = db.session.scalar(sa.select(sa.func.count(TaskSignup.id)))
    _is_problem(client.post(f"/api/v1/volunteer/tasks/{task_id}/signup", headers=bearer(read_only)), 403)
    assert db.session.scalar(sa.select(sa.func.count(TaskSignup.id))) == before
    for path in ("/api/v1/provider/orders", "/api/v1/staff/households"):
        body = _is_problem(client.get(path, headers=bearer(read_only)), 403)
        assert "items" not in body
    staff = token_for("city", ["staff:read"])
    _is_problem(client.get("/api/v1/volunteer/tasks", headers=bearer(staff)), 403)
    worker = token_for("worker1")
    order_id = db.session.scalar(sa.select(Order.id).where(Order.provider_id == user("worker1").provider_id)) or 1
    _is_problem(client.post(f"/api/v1/provider/orders/{order_id}/decline", json={"reason": "busy"},
                            headers=bearer(worker)), 403)  # only the administrator answers orders


def test_problems_speak_the_token_users_language_else_accept_language(demo, client):
    zh = _is_problem(client.get("/api/v1/me", headers={"Accept-Language": "zh-CN"}), 401)
    en = _is_problem(client.get("/api/v1/me", headers={"Accept-Language": "en"}), 401)
    assert en["title"] == "A valid API token is required."
    assert zh["title"] != en["title"]
    u = user("town1")
    u.locale = "en"
    db.session.commit()
    secret = token_for("town1", ["staff:read"])
    body = _is_problem(client.get("/api/v1/volunteer/tasks", headers=bearer(secret, **{"Accept-Language": "zh"})),
                       403)
    assert body["title"] == "The token may not do this."


def test_provider_orders_are_the_organisations_own_filtered_and_paginated(demo, client):
    for name in ("agency1", "agency2", "unit1"):
        secret = token_for(name, ["provider:read"])
        mine = set(db.session.scalars(sa.select(Order.id).where(Order.provider_id == user(name).provider_id)))
        seen, page, pages = set(), 1, 1
        while page <= pages:
            body = client.get(f"/api/v1/provider/orders?page={page}", headers=bearer(secret)).get_json()
            assert body["total"] == len(mine)
            pages, page = body["pages"], page + 1
            seen |= {o["id"] for o in body["items"]}
            for o in body["items"]:
                for key in ("dispatched_at", "response_due_at"):
                    assert o[key] is None or OFFSET.match(o[key])
        assert seen == mine
    secret = token_for("agency1", ["provider:read"])
    dispatched = client.get("/api/v1/provider/orders?state=dispatched", headers=bearer(secret)).get_json()
    assert all(o["state"] == "dispatched" for o in dispatched["items"])
    body = _is_problem(client.get("/api/v1/provider/orders?state=nonsense", headers=bearer(secret)), 422)
    assert [e["path"] for e in body["errors"]] == ["query/state"]
    _is_problem(client.get("/api/v1/provider/orders?page=0", headers=bearer(secret)), 422)


def _dispatched_order_of(name: str) -> Order | None:
    return db.session.scalar(sa.select(Order).where(Order.provider_id == user(name).provider_id,
                                                    Order.state == OrderState.dispatched).order_by(Order.id))


def test_another_organisations_order_is_404_and_unchanged(demo, client):
    order = _dispatched_order_of("agency1")
    if order is None:
        pytest.skip("the demo seed has no dispatched order for agency1")
    secret = token_for("agency2")
    response = client.post(f"/api/v1/provider/orders/{order.id}/decline", json={"reason": "not ours"},
                           headers=bearer(secret))
    _is_problem(response, 404)
    db.session.expire_all()
    assert db.session.get(Order, order.id).state == OrderState.dispatched


def test_bad_bodies_get_422_with_the_field_path_and_change_nothing(demo, client):
    order = _dispatched_order_of("agency1")
    order_id = order.id if order else 1
    secret = token_for("agency1")
    cases = [({}, "json/assignee_id"), ({"assignee_id": "x"}, "json/assignee_id"),
             ({"assignee_id": 2**40}, "json/assignee_id"), ({"assignee_id": 1, "extra": 1}, "json/extra")]
    for payload, path in cases:
        body = _is_problem(client.post(f"/api/v1/provider/orders/{order_id}/accept", json=payload,
                                       headers=bearer(secret)), 422)
        assert path in [e["path"] for e in body["errors"]], body
    body = _is_problem(client.post(f"/api/v1/provider/orders/{order_id}/decline", json={"reason": "x" * 201},
                                   headers=bearer(secret)), 422)
    assert body["errors"][0]["path"] == "json/reason"
    if order:
        db.session.expire_all()
        assert db.session.get(Order, order.id).state == OrderState.dispatched


def test_an_agency_accepts_and_a_retry_with_the_same_key_does_not_act_twice(demo, client):
    order = _dispatched_order_of("agency1")
    if order is None:
        pytest.skip("the demo seed has no dispatched order for agency1")
    worker = db.session.scalar(sa.select(ProviderMember).where(
        ProviderMember.provider_id == order.provider_id, ProviderMember.active,
        ProviderMember.role == "social_worker"))
    secret = token_for("agency1")
    headers = bearer(secret, **{"Idempotency-Key": "accept-1"})
    first = client.post(f"/api/v1/provider/orders/{order.id}/accept", json={"assignee_id": worker.id},
                        headers=headers)
    assert first.status_code == 200, first.get_data(as_text=True)
    assert first.get_json()["state"] == "accepted"
    acts = sa.select(sa.func.count(AuditLog.id)).where(AuditLog.action != "api.write")  # a retry is a use, no act
    events = db.session.scalar(acts)
    again = client.post(f"/api/v1/provider/orders/{order.id}/accept", json={"assignee_id": worker.id},
                        headers=headers)
    assert again.status_code == 200 and again.get_json() == first.get_json()
    assert db.session.scalar(acts) == events
    other = client.post(f"/api/v1/provider/orders/{order.id}/decline", json={"reason": "x"}, headers=headers)
    _is_problem(other, 409)  # the key belongs to another request


def test_volunteer_lists_ranked_tasks_signs_up_and_withdraws(demo, client):
    secret = token_for("volunteer1")
    listing = client.get("/api/v1/volunteer/tasks", headers=bearer(secret))
    assert listing.status_code == 200
    body = listing.get_json()
    assert body["page"] == 1 and body["total"] == len(body["items"]) or body["total"] > body["per_page"]
    if not body["items"]:
        pytest.skip("the demo seed offers volunteer1 no task")
    scores = [t["score"] for t in body["items"]]
    assert scores == sorted(scores, reverse=True)
    task = body["items"][0]
    assert task["starts_at"] is None or OFFSET.match(task["starts_at"])
    headers = bearer(secret, **{"Idempotency-Key": "signup-1"})
    first = client.post(f"/api/v1/volunteer/tasks/{task['task_id']}/signup", headers=headers)
    assert first.status_code == 200, first.get_data(as_text=True)
    assert first.get_json() == {"task_id": task["task_id"], "signed_up": True,
                                "places_left": task["places_left"] - 1}
    retry = client.post(f"/api/v1/volunteer/tasks/{task['task_id']}/signup", headers=headers)
    assert retry.get_json() == first.get_json()
    taken = db.session.scalar(sa.select(VolunteerTask.taken).where(VolunteerTask.id == task["task_id"]))
    assert taken == task["slots"] - task["places_left"] + 1
    twice = client.post(f"/api/v1/volunteer/tasks/{task['task_id']}/signup", headers=bearer(secret))
    _is_problem(twice, 409)
    out = client.post(f"/api/v1/volunteer/tasks/{task['task_id']}/withdraw", json={"reason": "ill"},
                      headers=bearer(secret))
    assert out.status_code == 200, out.get_data(as_text=True)
    assert out.get_json()["signed_up"] is False


def test_a_volunteer_cannot_withdraw_a_place_it_does_not_hold(demo, client):
    from socialforce.platform.services import volunteers

    mine = volunteers.volunteer_of(user("volunteer2")).id
    signup = db.session.scalar(sa.select(TaskSignup).where(TaskSignup.volunteer_id != mine).limit(1))
    if signup is None:
        pytest.skip("the demo seed has no sign-up of another volunteer")
    taken = db.session.get(VolunteerTask, signup.task_id).taken
    _is_problem(client.post(f"/api/v1/volunteer/tasks/{signup.task_id}/withdraw", json={},
                            headers=bearer(token_for("volunteer2"))), 404)
    db.session.expire_all()
    assert db.session.get(VolunteerTask, signup.task_id).taken == taken


def test_staff_households_are_town_scoped_masked_and_paginated(demo, client):
    found = personal_secrets()
    for name in ("town1", "town2", "city"):
        u = user(name)
        secret = token_for(name, ["staff:read"])
        scope = sa.true() if u.town_id is None else Household.town_id == u.town_id
        expected = db.session.scalar(sa.select(sa.func.count(Household.id)).where(scope))
        response = client.get("/api/v1/staff/households", headers=bearer(secret))
        body = response.get_json()
        assert body["total"] == expected
        ids = [h["id"] for h in body["items"]]
        if u.town_id is not None:
            towns = set(db.session.scalars(sa.select(Household.town_id).where(Household.id.in_(ids))))
            assert towns <= {u.town_id}
        assert not leaks(response.get_data(as_text=True), found)
        assert all("address" not in h for h in body["items"])


def test_api_posts_need_no_csrf_token_but_portal_forms_still_do(demo, app, client):
    secret = token_for("agency1")
    response = client.post("/api/v1/provider/orders/1/decline", json={"reason": "x"}, headers=bearer(secret))
    assert response.status_code != 400
    browser = client_for(app, "agency1")
    assert browser.post("/agency/orders/1/decline", data={"reason": "x"}).status_code == 400


def test_write_uses_are_audited(demo, client):
    order = _dispatched_order_of("agency1")
    if order is None:
        pytest.skip("the demo seed has no dispatched order for agency1")
    secret = token_for("agency1")
    response = client.post(f"/api/v1/provider/orders/{order.id}/decline", json={"reason": "no capacity"},
                           headers=bearer(secret))
    assert response.status_code == 200, response.get_data(as_text=True)
    actions = set(db.session.scalars(sa.select(AuditLog.action).where(AuditLog.user_id == user("agency1").id)))
    assert "api_token.create" in actions and "api.write" in actions
