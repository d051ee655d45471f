"""The inbox pages and the unread badge in every portal's navbar."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from socialforce.platform.extensions import db
from socialforce.platform.models import (
    Notification,
    OutboxMessage,
    OutboxStatus,
    ProviderKind,
    Role,
    User,
    utcnow,
)
from socialforce.platform.services import accounts, notifications
from tests import factories
from tests.conftest import csrf_token, login

PASSWORD = "pw-inbox-1"
BADGE_RE = re.compile(r'id="unread-badge"[^>]*>(\d+)<')


def make_user(username: str, role: Role = Role.city_staff, **kwargs) -> User:
    u = accounts.create_user(username, PASSWORD, role, f"名字{username}", **kwargs)
    db.session.commit()
    return u


def badge(client, path: str) -> int | None:
    html = client.get(path).get_data(as_text=True)
    match = BADGE_RE.search(html)
    return int(match.group(1)) if match else None


def notify(u: User, n: int = 1, link: str | None = None) -> list[int]:
    ids = [notifications.notify([u.id], "order_expired", {"order_id": 100 + i}, link)[0].id for i in range(n)]
    db.session.commit()
    return ids


def english(client) -> None:
    client.post("/lang/en", data={"csrf_token": csrf_token(client)})


def post(client, path: str, **data):
    return client.post(path, data={"csrf_token": csrf_token(client, "/inbox/"), **data})


def test_the_inbox_needs_a_login(client):
    response = client.get("/inbox/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_an_empty_inbox_says_what_to_expect(client):
    make_user("city1")
    login(client, "city1", PASSWORD)
    html = client.get("/inbox/").get_data(as_text=True)
    assert "暂无通知" in html and 'id="unread-badge"' not in html


def _portal_user(role: Role) -> User:
    if role in (Role.city_staff, Role.town_staff):
        town_id = factories.town("longquan").id if role == Role.town_staff else None
        return make_user(f"u-{role.value}", role, town_id=town_id)
    kind = {Role.agency_admin: ProviderKind.agency, Role.unit_admin: ProviderKind.unit,
            Role.volunteer: ProviderKind.volunteer}[role]
    provider_id = (factories.volunteer().provider_id if role == Role.volunteer
                   else factories.provider(kind).id)
    return make_user(f"u-{role.value}", role, provider_id=provider_id)


@pytest.mark.parametrize(("role", "portal"), [
    (Role.city_staff, "/staff/"), (Role.town_staff, "/staff/"), (Role.agency_admin, "/agency/"),
    (Role.unit_admin, "/unit/"), (Role.volunteer, "/volunteer/"),
])
def test_the_unread_badge_shows_in_the_portal_and_goes_after_reading(client, role, portal):
    u = _portal_user(role)
    english(client)
    login(client, u.username, PASSWORD)
    assert badge(client, portal) is None
    first, _ = notify(u, 2)
    assert badge(client, portal) == 2
    response = post(client, f"/inbox/{first}/read")
    assert response.status_code == 302
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Notification marked as read." in html and html.count("notification-unread") == 1
    assert badge(client, portal) == 1
    post(client, "/inbox/read-all")
    assert badge(client, portal) is None


def test_one_user_cannot_mark_anothers_notification(client):
    make_user("city1")
    other = make_user("city2")
    (theirs,) = notify(other)
    login(client, "city1", PASSWORD)
    assert post(client, f"/inbox/{theirs}/read").status_code == 404
    assert post(client, "/inbox/999999/read").status_code == 404
    db.session.expire_all()
    assert db.session.get(Notification, theirs).read_at is None
    assert "order_expired" not in client.get("/inbox/").get_data(as_text=True)


def test_the_inbox_lists_newest_first_highlights_unread_and_pages(app, client):
    u = make_user("city1")
    ids = notify(u, app.config["PAGE_SIZE"] + 2)
    base = utcnow()
    for offset, note_id in enumerate(ids):  # created in order: later ids are newer
        db.session.get(Notification, note_id).created_at = base + timedelta(seconds=offset)
    db.session.commit()
    login(client, "city1", PASSWORD)
    page1 = client.get("/inbox/").get_data(as_text=True)
    page2 = client.get("/inbox/?page=2").get_data(as_text=True)
    newest = 100 + len(ids) - 1
    assert page1.index(f"#{newest}") < page1.index(f"#{newest - 1}")
    assert page1.count("notification-unread") == app.config["PAGE_SIZE"]
    assert page2.count("notification-unread") == 2 and "#100" in page2 and "#100" not in page1
    assert client.get("/inbox/?page=99").status_code == 200


def test_open_marks_read_and_follows_the_link_and_read_all_flashes(client):
    u = make_user("city1")
    (note_id,) = notify(u, link="/staff/")
    notify(u, 2)
    english(client)
    login(client, "city1", PASSWORD)
    response = post(client, f"/inbox/{note_id}/read", open="1")
    assert response.status_code == 302 and response.headers["Location"].endswith("/staff/")
    assert notifications.unread_count(u.id) == 2
    post(client, "/inbox/read-all")
    html = client.get("/inbox/").get_data(as_text=True)
    assert "2 notifications marked as read." in html and "notification-unread" not in html
    assert notifications.unread_count(u.id) == 0
    post(client, "/inbox/read-all")
    assert "There were no unread notifications." in client.get("/inbox/").get_data(as_text=True)


def test_a_read_notification_links_to_its_target(client):
    u = make_user("city1")
    (note_id,) = notify(u, link="/staff/households")
    notifications.mark_read(db.session.get(User, u.id), note_id)
    db.session.commit()
    login(client, "city1", PASSWORD)
    assert 'href="/staff/households"' in client.get("/inbox/").get_data(as_text=True)


def test_city_staff_see_and_retry_undelivered_messages(client):
    city = make_user("city1")
    town = make_user("town1", Role.town_staff, town_id=factories.town("longquan").id)
    (note_id,) = notify(town)
    message = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.notification_id == note_id))
    message.status, message.attempts, message.last_error = OutboxStatus.failed, 8, "ConnectionError: down"
    db.session.commit()

    login(client, "town1", PASSWORD)
    assert client.get("/inbox/failed").status_code == 403
    assert post(client, f"/inbox/failed/{message.id}/retry").status_code == 403
    client.post("/logout", data={"csrf_token": csrf_token(client, "/inbox/")})

    english(client)
    login(client, city.username, PASSWORD)
    html = client.get("/inbox/failed").get_data(as_text=True)
    assert "ConnectionError: down" in html and "名字town1" in html
    assert post(client, f"/inbox/failed/{message.id}/retry").status_code == 302
    db.session.expire_all()
    assert db.session.get(OutboxMessage, message.id).status == OutboxStatus.pending
    post(client, f"/inbox/failed/{message.id}/retry")  # no longer failed: refused with a message
    html = client.get("/inbox/failed").get_data(as_text=True)
    assert "This message is not waiting for a retry." in html and "Every message has been delivered" in html
