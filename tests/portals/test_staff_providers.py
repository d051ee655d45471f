"""Staff providers registry: list filters and pagination, detail pages with masked data, approve / suspend /
reinstate (audited, flashed, refused cleanly when not possible), town scoping, and concurrent approvals."""
from __future__ import annotations

import re
import threading
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa

from socialforce.platform import crypto, idnumber, weekmask
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    AuditLog,
    Contract,
    MemberRole,
    Notification,
    Order,
    OrderState,
    Pairing,
    PairingUnit,
    Provider,
    ProviderKind,
    ProviderMember,
    ProviderStatus,
    Qualification,
    Role,
    User,
)
from socialforce.platform.services import ServiceError, dispatch, matching, orders, providers, volunteers
from socialforce.platform.transactions import run_in_transaction
from tests import factories
from tests.conftest import csrf_token, login
from tests.platform.test_hours import record

VALID_ID = idnumber.make("370481", date(1990, 5, 17), 123)
PHONE = "13812345678"


def staff(username: str = "city", town_code: str | None = None) -> User:
    """A city (no town) or town staff user."""
    if town_code is None:
        return factories.user(username, Role.city_staff)
    return factories.user(username, Role.town_staff, town_id=factories.town(town_code).id)


def signed_up_volunteer(town_code: str = "longquan") -> tuple[Provider, User]:
    """A volunteer registered through the real sign-up service: pending, with a login."""
    user = volunteers.register(volunteers.Registration(
        username="wangxm", password="secret-pass-1", real_name="王小明", id_number=VALID_ID, phone=PHONE,
        town_id=factories.town(town_code).id, skills=("tutoring", "daily_care"), availability=weekmask.ALL))
    return db.session.get(Provider, user.provider_id), user


def audit_rows(action: str | None = None) -> list[AuditLog]:
    query = sa.select(AuditLog).where(AuditLog.object_type == "provider").order_by(AuditLog.id)
    if action:
        query = query.where(AuditLog.action == action)
    return list(db.session.scalars(query))


def post_action(client, provider_id: int, action: str, **data):
    token = csrf_token(client, f"/staff/providers/{provider_id}")
    return client.post(f"/staff/providers/{provider_id}/{action}", data={"csrf_token": token, "confirmed": "1", **data},
                       follow_redirects=True)


def flashes(response, category: str) -> str:
    """The text of the page's flashed messages of one category."""
    return " ".join(re.findall(rf'class="alert alert-{category}"[^>]*>([^<]*)<', response.get_data(as_text=True)))


def status_of(provider_id: int) -> ProviderStatus:
    db.session.expire_all()
    return db.session.get(Provider, provider_id).status


# ------------------------------------------------------------------ list
def test_list_filters_by_kind_status_town_and_name_and_paginates(client):
    staff()
    for n in range(27):
        factories.provider(ProviderKind.volunteer, f"志愿者甲{n:02d}", "longquan",
                           ProviderStatus.pending if n % 3 == 0 else ProviderStatus.approved)
    factories.agency("荆河社工中心", "jinghe")
    factories.provider(ProviderKind.unit, "滕州市民政局", "jinghe", ProviderStatus.suspended)
    db.session.commit()
    login(client, "city")

    first = client.get("/staff/providers").get_data(as_text=True)
    assert "第 1 / 2 页" in first or "Page 1 of 2" in first
    assert first.index("志愿者甲24") < first.index("志愿者甲26")  # pending ones first (24 is pending, 26 is not)
    second = client.get("/staff/providers?page=2").get_data(as_text=True)
    names = set(re.findall(r"志愿者甲\d\d|荆河社工中心|滕州市民政局", first + second))
    assert len(names) == 29

    agencies = client.get("/staff/providers?kind=agency").get_data(as_text=True)
    assert "荆河社工中心" in agencies and "志愿者甲" not in agencies
    pending = client.get("/staff/providers?status=pending").get_data(as_text=True)
    assert len(set(re.findall(r"志愿者甲\d\d", pending))) == 9 and "荆河社工中心" not in pending
    jinghe = factories.town("jinghe").id
    in_jinghe = client.get(f"/staff/providers?town={jinghe}").get_data(as_text=True)
    assert "滕州市民政局" in in_jinghe and "志愿者甲" not in in_jinghe
    named = client.get("/staff/providers?q=甲0").get_data(as_text=True)
    assert len(set(re.findall(r"志愿者甲\d\d", named))) == 10
    none = client.get("/staff/providers?q=%25").get_data(as_text=True)  # a LIKE wildcard is taken literally
    assert "志愿者甲" not in none and ("没有" in none or "No provider matches" in none)


def test_town_staff_list_only_their_town(client):
    staff("town2", "jinghe")
    factories.provider(ProviderKind.volunteer, "龙泉志愿者", "longquan", ProviderStatus.pending)
    factories.provider(ProviderKind.volunteer, "荆河志愿者", "jinghe", ProviderStatus.pending)
    db.session.commit()
    login(client, "town2")
    page = client.get(f"/staff/providers?town={factories.town('longquan').id}").get_data(as_text=True)
    assert "荆河志愿者" in page and "龙泉志愿者" not in page  # the town filter cannot widen a town user's scope


# ------------------------------------------------------------------ detail pages
def test_volunteer_page_shows_masked_id_phone_skills_certificates_and_hours(client):
    staff()
    provider, _user = signed_up_volunteer()
    record(provider.volunteer.id, 150, date(2024, 3, 1)).confirmed_at = datetime(2024, 3, 3)
    record(provider.volunteer.id, 60, date(2024, 3, 2))  # not confirmed: does not count
    factories.qualify(provider, "background_check")
    db.session.commit()
    login(client, "city")
    page = client.get(f"/staff/providers/{provider.id}").get_data(as_text=True)
    assert idnumber.mask(VALID_ID) in page and VALID_ID not in page
    assert crypto.mask_phone(PHONE) in page and PHONE not in page
    assert "学业辅导" in page and "生活照料" in page  # skills
    assert "无犯罪记录证明" in page  # the background check certificate
    assert "2.5" in page and "龙泉" in page  # hours and home town
    assert f'action="/staff/providers/{provider.id}/approve"' in page  # a pending registration offers approval


def test_agency_and_unit_pages_show_contracts_workers_cadres_and_pairings(client):
    staff()
    agency, worker = factories.agency("龙泉社工中心", hours=120.0)
    unit = factories.provider(ProviderKind.unit, "滕州市财政局")
    db.session.add(PairingUnit(provider_id=unit.id, unit_type="department", monthly_visit_quota=2))
    cadre = ProviderMember(provider_id=unit.id, role=MemberRole.cadre, name="李干部", phone_masked="139****1111")
    db.session.add(cadre)
    db.session.flush()
    household = factories.household()
    db.session.add(Pairing(provider_id=unit.id, household_id=household.id, cadre_id=cadre.id,
                           since=date.today() - timedelta(days=30)))
    contract = agency.agency.contracts[0]
    contract.used_hours = 30.0
    db.session.commit()
    login(client, "city")
    page = client.get(f"/staff/providers/{agency.id}").get_data(as_text=True)
    assert agency.agency.licence_no in page and worker.name in page and contract.code in page
    assert "30.0 / 120.0" in page
    page = client.get(f"/staff/providers/{unit.id}").get_data(as_text=True)
    assert "李干部" in page and "139****1111" in page and household.code in page
    assert f"/staff/households/{household.id}" in page


# ------------------------------------------------------------------ actions
def test_approving_a_signed_up_volunteer_activates_notifies_audits_and_flashes(client):
    city = staff()
    provider, user = signed_up_volunteer()
    user.active = False  # should the sign-up ever leave the login inactive, approval activates it
    db.session.commit()
    login(client, "city")
    response = post_action(client, provider.id, "approve")
    assert response.status_code == 200
    assert "王小明" in flashes(response, "success")
    assert "已批准" in flashes(response, "success") or "was approved" in flashes(response, "success")
    assert status_of(provider.id) == ProviderStatus.approved
    assert db.session.get(User, user.id).active
    [row] = audit_rows("provider_approved")
    assert (row.user_id, row.object_id) == (city.id, provider.id)
    assert row.detail["from_status"] == "pending" and row.detail["to_status"] == "approved"
    assert row.detail["accounts_activated"] == 1
    assert db.session.scalar(sa.select(Notification.kind).where(Notification.user_id == user.id)) == \
        "volunteer_approved"
    # the approved volunteer can log in
    client.post("/logout", data={"csrf_token": csrf_token(client, "/staff/")})
    assert "/volunteer/" in login(client, "wangxm", "secret-pass-1").request.path


def test_suspend_needs_a_reason_then_stops_matching_and_dispatch_and_reinstate_restores(client):
    staff()
    agency, _worker = factories.agency("龙泉社工中心")
    item = factories.item(factories.household(), "counselling")
    db.session.commit()
    assert agency.id in {o.provider_id for o in matching.load_offers(date.today())}
    login(client, "city")

    refused = post_action(client, agency.id, "suspend", reason="")
    assert refused.status_code == 400
    assert "invalid-feedback" in refused.get_data(as_text=True)  # the message beside the field
    assert status_of(agency.id) == ProviderStatus.approved and audit_rows() == []

    done = post_action(client, agency.id, "suspend", reason="服务投诉核查中")
    assert "已暂停" in flashes(done, "success") or "was suspended" in flashes(done, "success")
    assert status_of(agency.id) == ProviderStatus.suspended
    [row] = audit_rows("provider_suspended")
    assert row.detail["reason"] == "服务投诉核查中" and row.detail["from_status"] == "approved"
    assert agency.id not in {o.provider_id for o in matching.load_offers(date.today())}
    assert agency.id not in {c.provider_id for c in matching.rank_item(db.session.merge(item))}
    with pytest.raises(ServiceError):
        dispatch.dispatch(db.session.merge(item), dispatch.Choice(provider_id=agency.id), None)
    db.session.rollback()
    assert "服务投诉核查中" in client.get(f"/staff/providers/{agency.id}").get_data(as_text=True)

    back = post_action(client, agency.id, "reinstate")
    assert "已恢复" in flashes(back, "success") or "was reinstated" in flashes(back, "success")
    assert status_of(agency.id) == ProviderStatus.approved
    assert [r.action for r in audit_rows()] == ["provider_suspended", "provider_reinstated"]
    assert agency.id in {o.provider_id for o in matching.load_offers(date.today())}


def test_suspending_a_pending_volunteer_turns_the_registration_down(client):
    staff()
    provider, user = signed_up_volunteer()
    db.session.commit()
    login(client, "city")
    post_action(client, provider.id, "suspend", reason="身份信息不符")
    assert status_of(provider.id) == ProviderStatus.suspended
    assert db.session.scalar(sa.select(Notification.kind).where(Notification.user_id == user.id)) == \
        "volunteer_rejected"


@pytest.mark.parametrize("status, action, words", [
    (ProviderStatus.approved, "approve", ("已批准", "already approved")),
    (ProviderStatus.suspended, "approve", ("恢复", "reinstate it instead")),
    (ProviderStatus.suspended, "suspend", ("已暂停", "already suspended")),
    (ProviderStatus.approved, "reinstate", ("未被暂停", "not suspended")),
    (ProviderStatus.pending, "reinstate", ("待审核", "still pending")),
])
def test_an_illegal_action_is_refused_with_a_message_and_changes_nothing(client, status, action, words):
    staff()
    provider = factories.provider(ProviderKind.volunteer, "某志愿者", status=status)
    db.session.commit()
    login(client, "city")
    response = post_action(client, provider.id, action, reason="一个理由")
    refusal = flashes(response, "danger")
    assert response.status_code == 200 and any(w in refusal for w in words), refusal
    assert "未作任何更改" in refusal or "nothing was changed" in refusal.lower()
    assert status_of(provider.id) == status and audit_rows() == []


def test_an_unknown_action_is_404(client):
    staff()
    provider = factories.provider(ProviderKind.volunteer, status=ProviderStatus.pending)
    db.session.commit()
    login(client, "city")
    assert post_action(client, provider.id, "delete").status_code == 404
    assert status_of(provider.id) == ProviderStatus.pending


# ------------------------------------------------------------------ scope
def test_town_staff_of_another_town_get_404_and_change_nothing(client):
    staff("town2", "jinghe")
    staff("town1", "longquan")
    provider = factories.provider(ProviderKind.volunteer, "龙泉志愿者", "longquan", ProviderStatus.pending)
    db.session.commit()
    login(client, "town2")
    assert client.get(f"/staff/providers/{provider.id}").status_code == 404
    token = csrf_token(client, "/staff/providers")
    for action in ("approve", "suspend", "reinstate"):
        response = client.post(f"/staff/providers/{provider.id}/{action}", data={"csrf_token": token,
                                                                                 "reason": "越权尝试"})
        assert response.status_code == 404
    assert status_of(provider.id) == ProviderStatus.pending and audit_rows() == []
    with pytest.raises(ServiceError) as refused:  # the service refuses on its own too
        providers.change_status(provider.id, "approve", db.session.scalar(
            sa.select(User).where(User.username == "town2")))
    assert refused.value.status == 404

    client.post("/logout", data={"csrf_token": token})
    login(client, "town1")
    assert client.get(f"/staff/providers/{provider.id}").status_code == 200
    post_action(client, provider.id, "approve")
    assert status_of(provider.id) == ProviderStatus.approved


def test_provider_roles_cannot_use_the_registry(client):
    provider = factories.provider(ProviderKind.volunteer, status=ProviderStatus.pending)
    factories.user("vol", Role.volunteer, provider_id=provider.id)
    db.session.commit()
    login(client, "vol")
    assert client.get("/staff/providers").status_code == 403
    assert client.get(f"/staff/providers/{provider.id}").status_code == 403


def test_nav_lists_the_registry_and_the_audit_log_for_staff(client):
    staff()
    db.session.commit()
    login(client, "city")
    home = client.get("/staff/").get_data(as_text=True)
    assert 'href="/staff/providers"' in home and 'href="/staff/audit"' in home


# ------------------------------------------------------------------ concurrency
THREADS, RUNS = 8, 5


def race(app, provider_id: int, attempts: list[tuple[int, str]]) -> tuple[list[str], list[BaseException]]:
    """Run (actor, action) attempts on one provider from threads at once; each outcome is 'won' or 'refused'."""
    barrier = threading.Barrier(len(attempts))
    outcomes: list[str] = [""] * len(attempts)
    errors: list[BaseException] = []

    def attempt(index: int, actor_id: int, action: str) -> None:
        with app.app_context():
            actor = db.session.get(User, actor_id)
            db.session.commit()  # end the read transaction before racing
            barrier.wait()
            try:
                run_in_transaction(lambda: providers.change_status(provider_id, action, actor, "并发核查"))
                outcomes[index] = "won"
            except ServiceError:
                outcomes[index] = "refused"
            except BaseException as e:  # noqa: BLE001 - collected and asserted below
                errors.append(e)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=attempt, args=(i, actor_id, action))
               for i, (actor_id, action) in enumerate(attempts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return outcomes, errors


def test_of_concurrent_approvals_exactly_one_wins(app):
    actors = [*(staff(f"city{n}").id for n in range(THREADS // 2)),
              *(staff(f"town{n}", "longquan").id for n in range(THREADS // 2))]
    for run in range(RUNS):
        provider_id = factories.provider(ProviderKind.volunteer, f"并发{run}", status=ProviderStatus.pending).id
        db.session.commit()
        outcomes, errors = race(app, provider_id, [(a, "approve") for a in actors])
        assert errors == [], f"run {run}: {errors[:3]}"
        assert sorted(outcomes) == ["refused"] * (THREADS - 1) + ["won"], f"run {run}"
        assert status_of(provider_id) == ProviderStatus.approved
        assert db.session.scalar(sa.select(sa.func.count(AuditLog.id)).where(
            AuditLog.action == "provider_approved", AuditLog.object_id == provider_id)) == 1


def test_a_suspension_racing_an_approval_leaves_one_consistent_outcome(app):
    city, town = staff("city").id, staff("town1", "longquan").id
    for run in range(RUNS):
        provider_id = factories.provider(ProviderKind.volunteer, f"竞争{run}", status=ProviderStatus.pending).id
        db.session.commit()
        outcomes, errors = race(app, provider_id, [(city, "approve"), (town, "suspend")])
        assert errors == [], f"run {run}: {errors[:3]}"
        rows = db.session.scalars(sa.select(AuditLog).where(AuditLog.object_id == provider_id,
                                                            AuditLog.object_type == "provider")
                                  .order_by(AuditLog.id)).all()
        final = status_of(provider_id)
        # either order is legal (a suspension may follow the approval), but the trail always explains the status
        assert len(rows) == outcomes.count("won") >= 1, f"run {run}"
        assert rows[-1].detail["to_status"] == final.value
        assert [r.detail["from_status"] for r in rows] == ["pending", *[r.detail["to_status"] for r in rows[:-1]]]


def test_status_counts_follow_the_scope(app):
    city, town = staff(), staff("town1", "longquan")
    factories.provider(ProviderKind.volunteer, status=ProviderStatus.pending)
    factories.provider(ProviderKind.volunteer, town_code="jinghe", status=ProviderStatus.pending)
    factories.provider(ProviderKind.unit, town_code="jinghe", status=ProviderStatus.suspended)
    assert providers.status_counts(city) == {"pending": 2, "approved": 0, "suspended": 1}
    assert providers.status_counts(town) == {"pending": 1, "approved": 0, "suspended": 0}


def test_staff_record_a_background_check_and_bad_dates_change_nothing(client):
    provider, _user = signed_up_volunteer()
    staff("town-lq", "longquan")
    staff("town-jh", "jinghe")
    db.session.commit()
    login(client, "town-lq")
    today = date.today()
    bad = post_action(client, provider.id, "background-check", issued_on=today.isoformat(),
                      expires_on=(today - timedelta(days=1)).isoformat())
    assert bad.status_code == 400 and "invalid-feedback" in bad.get_data(as_text=True)
    assert volunteers.background_check(provider.volunteer, today).status == "missing"
    done = post_action(client, provider.id, "background-check", issued_on=(today - timedelta(days=3)).isoformat(),
                       expires_on=(today + timedelta(days=365)).isoformat(), document_no="WF-2026-001")
    assert done.status_code == 200 and "alert-success" in done.get_data(as_text=True)
    db.session.expire_all()
    assert volunteers.background_check(provider.volunteer, today).status == "valid"
    assert [r.detail["expires_on"] for r in audit_rows("background_check_recorded")] == [
        (today + timedelta(days=365)).isoformat()]
    client.post("/logout", data={"csrf_token": csrf_token(client, "/staff/")})
    login(client, "town-jh")
    other = client.post(f"/staff/providers/{provider.id}/background-check",
                        data={"csrf_token": csrf_token(client, "/staff/providers"),
                              "issued_on": today.isoformat(), "expires_on": (today + timedelta(days=9)).isoformat()})
    assert other.status_code == 404
    assert len(audit_rows("background_check_recorded")) == 1


# ------------------------------------------------------------------ certificate verification
def declared(code: str = "certified_counsellor", expires_on: date | None = None):
    """A volunteer in 龙泉街道 with a certificate they declared themselves (not verified)."""
    volunteer = factories.volunteer("longquan")
    factories.offer(volunteer.provider, ("daily_care",))
    row = Qualification(provider_id=volunteer.provider_id, code=code, document_no="XL-2026-01", expires_on=expires_on)
    db.session.add(row)
    db.session.flush()
    return volunteer.provider, row


def counted(provider: Provider) -> frozenset:
    """The qualifications matching sees for the provider today."""
    db.session.expire_all()
    return frozenset().union(*(o.qualifications for o in matching.load_offers(date.today(), [provider.id])))


def test_a_declared_certificate_counts_only_after_staff_verify_it(client):
    provider, cert = declared()
    factories.qualify(provider, "teacher")  # recorded by the bureau: verified
    staff("town-lq", "longquan")
    staff("town-jh", "jinghe")
    db.session.commit()
    assert counted(provider) == {"teacher"}
    login(client, "town-jh")
    url = f"/staff/providers/{provider.id}/certificates/{cert.id}/verify"
    other = client.post(url, data={"csrf_token": csrf_token(client, "/staff/providers")})
    assert other.status_code == 404 and "certified_counsellor" not in counted(provider)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/staff/")})
    login(client, "town-lq")
    page = client.get(f"/staff/providers/{provider.id}").get_data(as_text=True)
    assert "待核验" in page and url in page
    done = client.post(url, data={"csrf_token": csrf_token(client, f"/staff/providers/{provider.id}")},
                       follow_redirects=True)
    assert "证书已核验" in flashes(done, "success") and "已核验" in done.get_data(as_text=True)
    assert "certified_counsellor" in counted(provider)
    assert [r.detail["code"] for r in audit_rows("qualification_verified")] == ["certified_counsellor"]
    again = client.post(url, data={"csrf_token": csrf_token(client, f"/staff/providers/{provider.id}")},
                        follow_redirects=True)
    assert "已核验过" in flashes(again, "danger") and len(audit_rows("qualification_verified")) == 1


def test_an_expired_certificate_is_not_verified(client):
    provider, cert = declared("teacher", expires_on=date.today() - timedelta(days=1))
    staff()
    db.session.commit()
    login(client, "city")
    answer = client.post(f"/staff/providers/{provider.id}/certificates/{cert.id}/verify",
                         data={"csrf_token": csrf_token(client, f"/staff/providers/{provider.id}")},
                         follow_redirects=True)
    assert "已过期" in flashes(answer, "danger")
    db.session.expire_all()
    assert db.session.get(Qualification, cert.id).verified_at is None and audit_rows("qualification_verified") == []


def test_of_staff_verifying_one_certificate_at_once_exactly_one_does(app):
    provider, cert = declared()
    actors = [staff(f"town{n}", "longquan").id for n in range(4)]
    db.session.commit()
    provider_id, cert_id = provider.id, cert.id
    barrier, outcomes = threading.Barrier(len(actors)), []

    def attempt(actor_id: int) -> None:
        with app.app_context():
            actor = db.session.get(User, actor_id)
            db.session.commit()
            barrier.wait()
            try:
                run_in_transaction(lambda: providers.verify_qualification(provider_id, cert_id, actor, date.today()))
                outcomes.append("won")
            except ServiceError as e:
                outcomes.append(e.status)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=attempt, args=(a,)) for a in actors]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes, key=str) == [409, 409, 409, "won"]
    assert len(audit_rows("qualification_verified")) == 1


def test_staff_find_the_providers_whose_certificates_await_verification_in_their_scope(client):
    provider, cert = declared()
    checked = factories.volunteer("longquan")
    factories.qualify(checked.provider, "teacher")
    staff("town-lq", "longquan")
    staff("town-jh", "jinghe")
    db.session.commit()
    assert providers.awaiting_verification_count(db.session.scalar(
        sa.select(User).where(User.username == "town-jh"))) == 0
    login(client, "town-lq")
    listed = client.get("/staff/providers?certificates=awaiting").get_data(as_text=True)
    assert provider.name in listed and checked.provider.name not in listed
    assert re.search(r"证书待核验</span> 1<", listed)
    run_in_transaction(lambda: providers.verify_qualification(
        provider.id, cert.id, db.session.scalar(sa.select(User).where(User.username == "town-lq")), date.today()))
    listed = client.get("/staff/providers?certificates=awaiting").get_data(as_text=True)
    assert provider.name not in listed and re.search(r"证书待核验</span> 0<", listed)


def test_suspending_an_organisation_cancels_its_orders_not_yet_started_and_keeps_those_in_service(app):
    city = staff()
    agency, worker = factories.agency("龙泉社工中心")
    items = [factories.item(factories.household(), "counselling", description="需要心理疏导") for _ in range(3)]
    db.session.commit()
    waiting, accepted, serving = (dispatch.dispatch(it, dispatch.Choice(provider_id=agency.id), city) for it in items)
    for order in (accepted, serving):
        dispatch.accept(order, city, worker.id)
    orders.transition(serving, OrderState.scheduled, city)
    orders.transition(serving, OrderState.in_service, city)
    db.session.commit()
    contract = db.session.get(Contract, accepted.contract_id)
    charged = contract.used_hours
    run_in_transaction(lambda: providers.change_status(agency.id, "suspend", db.session.merge(city), "服务投诉核查中"))
    db.session.expire_all()
    states = {o.item_id: (o.state, o.item.status) for o in db.session.scalars(sa.select(Order))}
    assert states[items[0].id] == states[items[1].id] == (OrderState.cancelled, "open")
    assert states[items[2].id][0] == OrderState.in_service and states[items[2].id][1] != "open"
    assert db.session.get(Order, waiting.id).events[-1].reason == "服务方已暂停：服务投诉核查中"
    assert contract.used_hours == pytest.approx(charged - accepted.expected_hours)
    [row] = audit_rows("provider_suspended")
    assert (row.detail["orders_cancelled"], row.detail["orders_in_service"]) == (2, 1)
