"""Manager resets and codes: keyed hash only, 24 h validity, single use under 20 concurrent uses, 5 wrong tries
void a code, a new one voids the old, who may reset whom."""
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from socialforce.platform.extensions import db
from socialforce.platform.models import AuditLog, OneTimeCode, ProviderKind, Role, User, utcnow
from socialforce.platform.services import ServiceError, password_reset
from socialforce.platform.services import one_time_codes as codes
from socialforce.platform.transactions import run_in_transaction
from tests import factories


def people():
    city = factories.user("city", Role.city_staff)
    town = factories.user("town", Role.town_staff, town_id=factories.town().id)
    agency = factories.provider(ProviderKind.agency)
    other = factories.provider(ProviderKind.agency)
    admin = factories.user("boss", Role.agency_admin, provider_id=agency.id)
    worker = factories.user("worker", Role.social_worker, provider_id=agency.id)
    stranger = factories.user("stranger", Role.social_worker, provider_id=other.id)
    return city, town, admin, worker, stranger


def test_who_may_reset_whom(app):
    city, town, admin, worker, stranger = people()
    assert password_reset.may_reset(city, town) and password_reset.may_reset(city, worker)
    assert password_reset.may_reset(admin, worker)
    assert not password_reset.may_reset(admin, stranger)
    assert not password_reset.may_reset(town, worker) and not password_reset.may_reset(worker, admin)
    assert not password_reset.may_reset(city, city)
    with pytest.raises(ServiceError):
        password_reset.issue_reset(stranger, "code", admin, utcnow())


def test_a_code_is_stored_as_a_keyed_hash_audited_and_single_use(app):
    city, _town, _admin, worker, _stranger = people()
    now = utcnow()
    issued = password_reset.issue_reset(worker, "code", city, now)
    assert len(issued.secret) == 8 and issued.expires_at == now + timedelta(hours=24)
    assert issued.secret not in repr(issued)
    row = db.session.scalar(sa.select(OneTimeCode))
    assert issued.secret not in (row.secret_hash or "") and row.target_enc is None
    audit_row = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "password_reset_issued"))
    assert audit_row.object_id == worker.id and issued.secret not in str(audit_row.detail)
    typed = issued.secret.lower()[:4] + " " + issued.secret[4:]  # case and spaces do not matter
    assert password_reset.redeem_code("worker", typed, now) == worker
    assert worker.must_change_password
    assert password_reset.redeem_code("worker", issued.secret, now) is None


def test_expires_after_24_hours(app):
    city, _town, _admin, worker, _stranger = people()
    now = utcnow()
    issued = password_reset.issue_reset(worker, "code", city, now)
    assert password_reset.redeem_code("worker", issued.secret, now + timedelta(hours=24, seconds=1)) is None
    assert password_reset.redeem_code("worker", issued.secret, now + timedelta(hours=23)) == worker


def test_a_new_reset_voids_the_old_one(app):
    city, _town, _admin, worker, _stranger = people()
    now = utcnow()
    old = password_reset.issue_reset(worker, "code", city, now)
    link = password_reset.issue_reset(worker, "link", city, now)
    assert password_reset.redeem_code("worker", old.secret, now) is None
    new = password_reset.issue_reset(worker, "code", city, now)
    assert password_reset.link_user(link.secret, now) is None
    assert password_reset.redeem_code("worker", new.secret, now) == worker


def test_five_wrong_tries_void_the_code(app):
    city, _town, _admin, worker, _stranger = people()
    now = utcnow()
    issued = password_reset.issue_reset(worker, "code", city, now)
    wrong = "ABCDEFGH" if issued.secret != "ABCDEFGH" else "HGFEDCBA"
    for _ in range(codes.CODE_MAX_TRIES):
        assert password_reset.redeem_code("worker", wrong, now) is None
    assert password_reset.redeem_code("worker", issued.secret, now) is None


def test_an_unknown_or_deactivated_account_gets_the_same_none(app):
    city, _town, _admin, worker, _stranger = people()
    issued = password_reset.issue_reset(worker, "code", city, utcnow())
    assert password_reset.redeem_code("nobody", issued.secret, utcnow()) is None
    worker.active = False
    assert password_reset.redeem_code("worker", issued.secret, utcnow()) is None


def race(app, work, n: int = 20) -> list:
    barrier = threading.Barrier(n)
    results, errors = [], []

    def attempt() -> None:
        with app.app_context():
            barrier.wait()
            try:
                user = run_in_transaction(work)
                results.append(user.id if user is not None else None)
            except BaseException as e:  # noqa: BLE001 - collected and asserted below
                errors.append(e)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=attempt) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    return results


@pytest.mark.parametrize("kind", ["code", "link"])
def test_twenty_concurrent_uses_exactly_one_wins(app, kind):
    city, _town, _admin, worker, _stranger = people()
    issued = password_reset.issue_reset(worker, kind, city, utcnow())
    db.session.commit()
    if kind == "code":
        results = race(app, lambda: password_reset.redeem_code("worker", issued.secret, utcnow()))
    else:
        results = race(app, lambda: password_reset.redeem_link(issued.secret, utcnow()))
    assert sorted(results, key=lambda r: r is None) == [worker.id] + [None] * 19
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).where(AuditLog.action == "password_reset_used")) == 1
    assert db.session.get(User, worker.id).must_change_password
