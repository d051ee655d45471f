"""The inbox pages and the unread badge in every portal's navbar."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from socialforce.platform.extensions import db
from socialforce.platform.models import (
    AuditLog,
    Notification,
    OutboxMessage,
    OutboxStatus,
    ProviderKind,
    Role,
    User,
    utcnow,
)
from socialforce.platform.services import accounts, notification_prefs, notifications
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
    if role == Role.village_assistant:
        h = factories.household()
        return make_user(f"u-{role.value}", role, town_id=h.town_id, village_id=h.village_id)
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


def _undelivered(user: User, kind: str, channel: str, status: OutboxStatus, error: str, days_ago: int = 0) -> int:
    note = notifications.notify([user.id], kind, {"order_id": 7, "visit_id": 7, "when": "2026-01-01T02:00"})[0]
    note.created_at = utcnow() - timedelta(days=days_ago)
    message = OutboxMessage(notification_id=note.id, channel=channel, status=status, attempts=3, last_error=error)
    db.session.add(message)
    db.session.commit()
    return message.id


def test_city_staff_list_failed_and_dropped_messages_with_reasons_and_filters(client):
    city = make_user("city1")
    town = make_user("town1", Role.town_staff, town_id=factories.town("longquan").id)
    failed = _undelivered(town, "order_expired", "sms", OutboxStatus.failed, "TransientDeliveryError: HTTP 503")
    _undelivered(town, "visit_missed", "email", OutboxStatus.dropped, "recipient deactivated", days_ago=3)
    _undelivered(town, "order_expired", "email", OutboxStatus.dropped,
                 "NoAddress: the recipient has no verified e-mail address", days_ago=10)
    _undelivered(town, "order_expired", "sms", OutboxStatus.sent, "")  # delivered: never listed
    english(client)
    login(client, city.username, PASSWORD)

    def retryable() -> list[int]:
        html = client.get("/inbox/failed").get_data(as_text=True)
        return [int(m) for m in re.findall(r'action="/inbox/failed/(\d+)/retry"', html)]

    html = client.get("/inbox/failed").get_data(as_text=True)
    assert html.count('data-state="failed"') == 1 and html.count('data-state="dropped"') == 2
    assert "TransientDeliveryError: HTTP 503" in html
    assert "The recipient&#39;s account is deactivated." in html
    assert "The recipient has no verified address on this channel." in html
    assert retryable() == [failed]  # only a failed message offers a retry
    html = client.get("/inbox/failed?channel=sms").get_data(as_text=True)
    assert f'action="/inbox/failed/{failed}/retry?channel=sms"' in html

    def states(query: str) -> tuple[int, int]:
        page = client.get("/inbox/failed" + query)
        assert page.status_code == 200, query
        html = page.get_data(as_text=True)
        return html.count('data-state="failed"'), html.count('data-state="dropped"')

    assert states("?state=dropped") == (0, 2)
    assert states("?channel=sms") == (1, 0)
    assert states("?channel=email&kind=visit_missed") == (0, 1)
    today = utcnow().date()
    assert states(f"?date_from={today - timedelta(days=5)}") == (1, 1)
    assert states(f"?date_to={today - timedelta(days=5)}") == (0, 1)
    assert states("?kind=order_dispatched") == (0, 0)

    # the shared pager keeps the filters in its links
    html = client.get("/inbox/failed?state=dropped&per_page=1").get_data(as_text=True)
    assert 'class="pager' in html and "state=dropped" in html.split('class="pager', 1)[1]

    # bad filter values are named next to their field and filter nothing
    for query, message in (("?channel=fax", "Choose one from the list."), ("?kind=../x", "Choose one from the list."),
                           ("?date_from=2026-13-40", "Enter a date as YYYY-MM-DD."),
                           ("?date_from=2026-02-02&date_to=2026-01-01", "The end date is before the start date.")):
        response = client.get("/inbox/failed" + query)
        assert response.status_code == 400 and message in response.get_data(as_text=True), query
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage).where(
        OutboxMessage.status == OutboxStatus.dropped)) == 2

    retried = post(client, f"/inbox/failed/{failed}/retry?channel=sms&next=//evil.example")
    assert retried.status_code == 302 and retried.headers["Location"] == "/inbox/failed?channel=sms"
    db.session.expire_all()
    assert db.session.get(OutboxMessage, failed).status == OutboxStatus.pending


# --- notification settings ------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.city_staff, Role.town_staff, Role.agency_admin, Role.unit_admin,
                                  Role.volunteer, Role.village_assistant])
def test_every_role_has_a_settings_page_with_its_own_kinds_of_notice(app, client, monkeypatch, role):
    monkeypatch.setitem(app.config, "NOTIFY_CHANNELS", ["log", "email", "sms"])
    u = _portal_user(role)
    english(client)
    login(client, u.username, PASSWORD)
    html = client.get("/inbox/settings").get_data(as_text=True)
    assert "Notification settings" in html and "Quiet hours" in html
    for kind in notification_prefs.kinds_for(u):
        assert f'id="email-{kind}"' in html and f'id="sms-{kind}"' in html
    staff_only = 'id="email-volunteer_registration_pending"' in html
    assert staff_only == (role in (Role.city_staff, Role.town_staff))
    assert ('id="email-task_published"' in html) == (role == Role.volunteer)
    assert ('id="email-waitlist_offer"' in html) == (role == Role.volunteer)
    assert ('id="email-hours_pending"' in html) == staff_only
    assert ('id="email-order_completed"' in html) == (role in (Role.city_staff, Role.town_staff,
                                                                Role.village_assistant))
    assert 'href="/inbox/settings"' in client.get("/inbox/").get_data(as_text=True)


def test_settings_are_saved_and_shown_again(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "NOTIFY_CHANNELS", ["log", "email", "sms"])
    u = make_user("town1", Role.town_staff, town_id=factories.town("longquan").id)
    english(client)
    login(client, "town1", PASSWORD)
    response = client.post("/inbox/settings", data={
        "csrf_token": csrf_token(client, "/inbox/settings"), "email": ["order_accepted", "order_completed"],
        "sms": ["order_escalated"], "quiet_start": "22:00", "quiet_end": "07:00"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/inbox/settings")
    html = client.get("/inbox/settings").get_data(as_text=True)
    assert "Your notification settings were saved." in html
    assert re.search(r'id="email-order_accepted"[^>]*checked', html)
    assert not re.search(r'id="email-order_declined"[^>]*checked', html)
    assert re.search(r'id="sms-order_escalated"[^>]*checked', html)
    assert 'value="22:00"' in html and 'value="07:00"' in html
    db.session.expire_all()
    row = notification_prefs.settings_of(u.id)
    assert (row.email_kinds, row.sms_kinds, row.quiet_start, row.quiet_end) == (
        ["order_accepted", "order_completed"], ["order_escalated"], 22 * 60, 7 * 60)
    assert db.session.scalar(sa.select(AuditLog.action).where(AuditLog.object_id == u.id,
                                                             AuditLog.object_type == "user")) == \
        "notification_settings"


@pytest.mark.parametrize(("form", "field", "message"), [
    ({"quiet_start": "22:00"}, "quiet_end", "Give both the start and the end of the quiet hours, or neither."),
    ({"quiet_start": "7 pm", "quiet_end": "07:00"}, "quiet_start", "Enter a time as HH:MM, for example 22:00."),
    ({"quiet_start": "07:00", "quiet_end": "07:00"}, "quiet_end",
     "The quiet hours must end at another time than they start."),
    ({"email": ["task_published"]}, "kinds", "Choose only the kinds of notice listed."),
])
def test_bad_settings_are_refused_next_to_the_field_and_nothing_changes(client, form, field, message):
    u = make_user("city1")
    english(client)
    login(client, "city1", PASSWORD)
    response = client.post("/inbox/settings", data={"csrf_token": csrf_token(client, "/inbox/settings"), **form})
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and f'id="{field}-error"' in html and message in html
    assert notification_prefs.settings_of(u.id) is None


def test_the_settings_page_says_chinese_by_default_and_needs_a_login(client):
    assert client.get("/inbox/settings").status_code == 302
    make_user("city1")
    login(client, "city1", PASSWORD)
    html = client.get("/inbox/settings").get_data(as_text=True)
    assert "通知设置" in html and "免打扰时段" in html
