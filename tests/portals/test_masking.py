"""Resident IDs are masked in every page; only the audited staff reveal shows one in full."""
import re

import sqlalchemy as sa

from socialforce.platform import crypto
from socialforce.platform.extensions import db
from socialforce.platform.models import AuditLog, Household, Member, User
from tests.conftest import csrf_token, login

FULL_ID = re.compile(r"(?<![\dA-Za-z*])\d{17}[\dXx](?![\dA-Za-z])")
NON_STAFF = ["agency1", "worker1", "unit1", "cadre1", "volunteer1"]


def crawl(client, start: str, limit: int = 40) -> dict[str, str]:
    """GET pages reachable by links from `start` inside the same portal."""
    seen: dict[str, str] = {}
    queue = [start]
    while queue and len(seen) < limit:
        path = queue.pop(0)
        if path in seen:
            continue
        response = client.get(path)
        if not response.content_type.startswith("text/"):  # a PDF or a calendar file: no page to read
            seen[path] = ""
            continue
        seen[path] = response.get_data(as_text=True)
        for link in re.findall(r'href="(/[^"#?]*)"', seen[path]):
            if link.startswith(start) and link not in seen:
                queue.append(link)
    return seen


def test_no_full_id_in_any_page_a_non_staff_role_can_open(demo, client):
    for username in NON_STAFF:
        login(client, username)
        pages = crawl(client, "/" + {"agency1": "agency", "worker1": "agency", "unit1": "unit",
                                     "cadre1": "unit", "volunteer1": "volunteer"}[username] + "/")
        assert pages
        for path, html in pages.items():
            assert not FULL_ID.search(html), f"{username} sees a full ID on {path}"
        client.post("/logout", data={"csrf_token": csrf_token(client, "/")})


def test_staff_household_page_shows_masked_ids_only(demo, client):
    login(client, "town1")
    user = db.session.scalar(sa.select(User).where(User.username == "town1"))
    household = db.session.scalar(sa.select(Household).where(Household.town_id == user.town_id).limit(1))
    html = client.get(f"/staff/households/{household.id}").get_data(as_text=True)
    assert not FULL_ID.search(html)
    for member in household.members:
        assert member.id_masked in html


def test_reveal_shows_the_id_once_and_writes_one_audit_record(demo, client):
    login(client, "town1")
    user = db.session.scalar(sa.select(User).where(User.username == "town1"))
    member = db.session.scalar(sa.select(Member).join(Household).where(Household.town_id == user.town_id).limit(1))
    token = csrf_token(client, f"/staff/households/{member.household_id}")
    before = db.session.scalar(sa.select(sa.func.count(AuditLog.id)).where(AuditLog.action == "reveal_id_number"))
    response = client.post(f"/staff/members/{member.id}/reveal", data={"purpose": "核对低保材料", "csrf_token": token})
    assert response.status_code == 200
    assert crypto.decrypt(member.id_number_enc) in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    entries = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "reveal_id_number")).all()
    assert len(entries) == before + 1
    entry = entries[-1]
    assert (entry.user_id, entry.object_id, entry.detail["household_id"]) == (user.id, member.id, member.household_id)
    assert entry.detail["purpose"] == "核对低保材料"


def test_reveal_without_a_purpose_is_refused_and_not_audited(demo, client):
    login(client, "city")
    member = db.session.scalar(sa.select(Member).limit(1))
    token = csrf_token(client, f"/staff/households/{member.household_id}")
    response = client.post(f"/staff/members/{member.id}/reveal", data={"purpose": "", "csrf_token": token})
    assert response.status_code == 400
    assert not FULL_ID.search(response.get_data(as_text=True))
    assert db.session.scalar(sa.select(sa.func.count(AuditLog.id)).where(AuditLog.action == "reveal_id_number")) == 0


def test_town_staff_cannot_open_another_towns_household(demo, client):
    login(client, "town1")
    user = db.session.scalar(sa.select(User).where(User.username == "town1"))
    other = db.session.scalar(sa.select(Household).where(Household.town_id != user.town_id).limit(1))
    assert client.get(f"/staff/households/{other.id}").status_code == 404
    member = other.members[0]
    token = csrf_token(client, "/staff/households")
    assert client.post(f"/staff/members/{member.id}/reveal",
                       data={"purpose": "越权", "csrf_token": token}).status_code == 404
