"""Hours certificates: one number per content, verification (masked name, hours, period and nothing else),
revocation by staff in scope (audited), numbers that cannot be walked."""
from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from socialforce.platform.extensions import db
from socialforce.platform.models import AuditLog, HoursCertificate, Role, utcnow
from socialforce.platform.services import ServiceError, certificates, hours
from tests import factories
from tests.platform.test_hours import record
from tests.platform.test_visits import NOW


def confirmed_volunteer(minutes=(90, 45)):
    staff = factories.user("city-c", Role.city_staff)
    vol = factories.volunteer()
    vol.real_name = "张小明"
    for n, m in enumerate(minutes):
        hours.confirm_record(record(vol.id, m, date(2024, 3, 1) + timedelta(days=n)), staff, NOW)
    return vol, staff


def test_a_certificate_verifies_with_masked_name_hours_and_period_only():
    vol, _staff = confirmed_volunteer()
    cert = certificates.issue(vol, None, NOW)
    assert re.fullmatch(r"TZ2024-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}", cert.number)
    assert cert.issuer == "滕州市民政局" and cert.contact
    found = certificates.verify(cert.number)
    assert (found.revoked, found.name_masked, found.hours, found.period_from, found.period_to) == (
        False, "张**", 2.25, date(2024, 3, 1), date(2024, 3, 2))
    assert "张小明" not in repr(found) and vol.id_masked not in repr(found)
    # typed by hand: lower case, spaces, O for 0 and I/L for 1
    typed = cert.number.lower().replace("0", "o").replace("1", "l")
    assert certificates.verify(" " + typed[:7] + " " + typed[7:]).number == cert.number
    assert certificates.verify("TZ2024-0000-0000-0000") is None
    assert certificates.verify("x" * 5000) is None and certificates.verify("") is None


def test_no_confirmed_record_no_certificate():
    vol = factories.volunteer()
    assert certificates.issue(vol, None, NOW) is None
    assert db.session.scalar(sa.select(sa.func.count(HoursCertificate.id))) == 0


def test_numbers_are_random_not_sequential():
    numbers = {certificates.new_number(2026) for _ in range(2000)}
    assert len(numbers) == 2000


def test_staff_of_the_volunteers_town_revoke_it_audited_and_a_new_download_gets_a_new_number():
    vol, city = confirmed_volunteer()
    cert = certificates.issue(vol, None, NOW)
    other_town = factories.user("ts-binhu", Role.town_staff, town_id=factories.town("binhu").id)
    with pytest.raises(ServiceError) as refused:
        certificates.revoke(other_town, cert.number, "填写错误", utcnow())
    assert refused.value.status == 404
    own_town = factories.user("ts-lq", Role.town_staff, town_id=factories.town("longquan").id)
    with pytest.raises(ServiceError):
        certificates.revoke(own_town, cert.number, " ", utcnow())  # a reason is required
    row = certificates.revoke(own_town, cert.number.lower(), "时长登记有误", utcnow())
    assert (row.revoked_by_id, row.revoke_reason, row.fingerprint) == (own_town.id, "时长登记有误", None)
    with pytest.raises(ServiceError):
        certificates.revoke(city, cert.number, "再次撤销", utcnow())
    audit = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "hours_certificate_revoked"))
    assert (audit.user_id, audit.object_id, audit.detail["reason"]) == (own_town.id, row.id, "时长登记有误")
    assert certificates.verify(cert.number).revoked
    renewed = certificates.issue(vol, None, NOW)
    assert renewed.number != cert.number and not certificates.verify(renewed.number).revoked


def test_a_concurrent_issue_of_the_same_content_reuses_the_other_number(monkeypatch):
    vol, _staff = confirmed_volunteer()
    first = certificates.issue(vol, None, NOW)
    real = certificates._current
    calls = []

    def missed_once(fingerprint):  # as if the other download committed between our look-up and our insert
        calls.append(fingerprint)
        return None if len(calls) == 1 else real(fingerprint)

    monkeypatch.setattr(certificates, "_current", missed_once)
    assert certificates.issue(vol, None, NOW).number == first.number
    assert db.session.scalar(sa.select(sa.func.count(HoursCertificate.id))) == 1


def test_staff_see_certificates_of_their_towns_volunteers_only():
    vol, city = confirmed_volunteer()
    certificates.issue(vol, None, NOW)
    own = factories.user("ts-own", Role.town_staff, town_id=factories.town("longquan").id)
    other = factories.user("ts-other", Role.town_staff, town_id=factories.town("binhu").id)
    count = lambda u: len(db.session.scalars(certificates.scoped_certificates(u)).all())  # noqa: E731
    assert (count(city), count(own), count(other)) == (1, 1, 0)
