"""The staff audit-log viewer: newest first, paginated, filtered by action, actor and local date range; city staff read
every row, town staff only rows about their town's objects or by their town's users; nothing personal is shown."""
from __future__ import annotations

import re
from datetime import datetime, timedelta

import sqlalchemy as sa

from socialforce.platform import crypto
from socialforce.platform.extensions import db
from socialforce.platform.models import AuditLog, Household, Member, ProviderKind, ProviderStatus, Role
from socialforce.platform.services import audit, households, providers
from tests import factories
from tests.conftest import login
from tests.portals.test_staff_providers import staff


def row(action: str, at: datetime, user=None, object_type: str | None = None, object_id: int | None = None,
        **detail) -> AuditLog:
    """An audit row at a given time (naive UTC)."""
    entry = AuditLog(action=action, at=at, user_id=user.id if user else None, object_type=object_type,
                     object_id=object_id, detail=detail or None)
    db.session.add(entry)
    db.session.flush()
    return entry


def row_ids(html: str) -> list[str]:
    return re.findall(r"<code>([a-z_0-9]+)</code>", html)


def test_city_staff_see_every_row_newest_first_in_pages(client):
    staff()
    base = datetime(2020, 3, 1, 2, 0)
    for n in range(30):
        row(f"act_{n:02d}", base + timedelta(minutes=n))
    db.session.commit()
    login(client, "city")  # writes one more row (login), the newest
    first = client.get("/staff/audit").get_data(as_text=True)
    actions = row_ids(first)
    assert actions[:3] == ["login", "act_29", "act_28"] and len(actions) == 25
    second = row_ids(client.get("/staff/audit?page=2").get_data(as_text=True))
    assert second == [f"act_{n:02d}" for n in range(5, -1, -1)]
    assert "第 1 / 2 页" in first or "Page 1 of 2" in first


def test_filters_by_action_actor_and_local_dates(client):
    city = staff()
    other = staff("town1", "longquan")
    row("provider_approved", datetime(2026, 3, 1, 15, 30), city)   # 2026-03-01 23:30 in Shanghai
    row("provider_approved", datetime(2026, 3, 1, 16, 30), other)  # 2026-03-02 00:30 in Shanghai
    row("item_closed", datetime(2026, 3, 2, 1, 0), other)
    db.session.commit()
    login(client, "city")

    def actions(query: str) -> list[str]:
        response = client.get("/staff/audit?" + query)
        assert response.status_code == 200
        return [a for a in row_ids(response.get_data(as_text=True)) if a != "login"]

    assert actions("action=provider_approved") == ["provider_approved", "provider_approved"]
    assert actions("actor=town1") == ["item_closed", "provider_approved"]
    assert actions("actor=TOWN1&action=item_closed") == ["item_closed"]
    assert actions("date_from=2026-03-02&date_to=2026-03-02") == ["item_closed", "provider_approved"]
    assert actions("date_to=2026-03-01") == ["provider_approved"]
    assert actions("actor=nobody") == []
    page = client.get("/staff/audit?actor=nobody").get_data(as_text=True)
    assert "没有" in page or "No audited action matches" in page  # the empty state says what to do


def test_a_bad_date_gets_a_message_beside_the_field(client):
    staff()
    db.session.commit()
    login(client, "city")
    response = client.get("/staff/audit?date_from=2026-13-40")
    assert response.status_code == 400
    assert "is-invalid" in response.get_data(as_text=True) and "invalid-feedback" in response.get_data(as_text=True)
    reversed_range = client.get("/staff/audit?date_from=2026-03-05&date_to=2026-03-01")
    assert reversed_range.status_code == 400


def test_town_staff_see_only_rows_of_their_town(client):
    city = staff()
    town1 = staff("town1", "longquan")
    town2 = staff("town2", "jinghe")
    own_provider = factories.provider(ProviderKind.volunteer, "龙泉志愿者", "longquan", ProviderStatus.pending)
    other_provider = factories.provider(ProviderKind.volunteer, "荆河志愿者", "jinghe", ProviderStatus.pending)
    own_item = factories.item(factories.household("longquan"))
    other_item = factories.item(factories.household("jinghe"))
    when = datetime(2026, 3, 1, 2, 0)
    row("own_provider_row", when, city, "provider", own_provider.id)
    row("other_provider_row", when, city, "provider", other_provider.id)
    row("own_item_row", when, None, "service_item", own_item.id)
    row("other_item_row", when, None, "service_item", other_item.id)
    row("colleague_row", when, town1)
    row("other_town_staff_row", when, town2)
    row("city_export_row", when, city)
    db.session.commit()

    assert {r.action for r in db.session.scalars(audit.log_query(town1))} == {
        "own_provider_row", "own_item_row", "colleague_row"}
    login(client, "town1")
    seen = set(row_ids(client.get("/staff/audit").get_data(as_text=True)))
    assert seen == {"own_provider_row", "own_item_row", "colleague_row", "login"}
    assert len(list(db.session.scalars(audit.log_query(city)))) == 8  # city staff: all rows, incl. the login


def test_provider_status_changes_appear_with_their_reason_for_the_towns_staff(client):
    town1 = staff("town1", "longquan")
    provider = factories.provider(ProviderKind.agency, "龙泉社工中心", "longquan")
    providers.change_status(provider.id, "suspend", town1, "投诉核查中")
    db.session.commit()
    login(client, "town1")
    page = client.get("/staff/audit?action=provider_suspended").get_data(as_text=True)
    assert "provider_suspended" in page and "投诉核查中" in page and f"/staff/providers/{provider.id}" in page


def test_no_personal_data_is_shown(client):
    city = staff()
    household = factories.household()
    member = db.session.scalar(sa.select(Member).where(Member.household_id == household.id))
    number = crypto.decrypt(member.id_number_enc)
    households.reveal_id_number(member, city, "核对低保申请", "10.0.0.1")
    row("item_closed", datetime(2026, 3, 1), city, "service_item", 1, reason=f"户主电话13812345678 身份证{number}")
    row("login_failed", datetime(2026, 3, 1), None, account=crypto.lookup_hash("login:someone"))
    db.session.commit()
    login(client, "city")
    page = client.get("/staff/audit").get_data(as_text=True)
    assert "reveal_id_number" in page and "核对低保申请" in page
    assert number not in page and "13812345678" not in page
    assert "*******5678" in page  # a phone typed into a reason is masked
    assert crypto.lookup_hash("login:someone") not in page
    assert member.name not in page and household.head_name not in page


def test_provider_roles_cannot_read_the_audit_log(client):
    provider = factories.provider(ProviderKind.agency, "某机构")
    factories.user("agency", Role.agency_admin, provider_id=provider.id)
    db.session.commit()
    login(client, "agency")
    assert client.get("/staff/audit").status_code == 403


def test_town_scope_counts_stay_right_on_a_bigger_trail(app):
    """The scoped query counts the same rows as a per-row check, on a mixed trail."""
    city, town1 = staff(), staff("town1", "longquan")
    own = [factories.household("longquan") for _ in range(3)]
    other = [factories.household("jinghe") for _ in range(3)]
    when = datetime(2026, 3, 1)
    for n in range(60):
        h = (own + other)[n % 6]
        row("household_row", when + timedelta(seconds=n), city, "household", h.id)
    db.session.commit()
    count = db.session.scalar(sa.select(sa.func.count()).select_from(audit.log_query(town1).subquery()))
    in_town = {h.id for h in db.session.scalars(sa.select(Household).where(Household.town_id == town1.town_id))}
    expected = sum(1 for r in db.session.scalars(sa.select(AuditLog)) if r.object_id in in_town)
    assert count == expected == 30
