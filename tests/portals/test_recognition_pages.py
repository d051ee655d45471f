"""The pages of recognised hours and calendars: staff confirm hours in bulk (filters, "confirm N records for M
people?", flagged records left out), the volunteer's star level, the certificate PDF (text extractable with pypdf,
QR decoded with zxing-cpp to the verification URL), the public verification page, revocation, and the calendar
feed's secret URL (rotated: the old one 404 at once) and .ics downloads."""
from __future__ import annotations

import io
import re
import shutil
import subprocess
from datetime import date, timedelta
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
import vobject

from socialforce.platform import pdf
from socialforce.platform.extensions import db
from socialforce.platform.models import AuditLog, HoursCertificate, Role, ServiceRecord, Visit, utcnow
from socialforce.platform.services import hours, visits
from socialforce.platform.services.visits import Assignee
from tests import factories
from tests.conftest import csrf_token, login
from tests.platform.test_hours import record
from tests.platform.test_visits import accepted_order


def chinese_font() -> bool:
    """Whether fontconfig knows a font covering Chinese (Debian: fonts-wqy-microhei, installed by .ci/run)."""
    fc_list = shutil.which("fc-list")
    return bool(fc_list and subprocess.run([fc_list, ":lang=zh"], capture_output=True, text=True,  # noqa: S603
                                           check=False).stdout.strip())


TOKEN_RE = re.compile(r'value="(http://localhost/calendar/[^"]+\.ics)"')


def volunteer_login(username: str = "vol-a", town: str = "longquan"):
    vol = factories.volunteer(town)
    factories.user(username, Role.volunteer, provider_id=vol.provider_id)
    return vol


def staff_login(username: str, town: str | None = None):
    if town is None:
        return factories.user(username, Role.city_staff)
    return factories.user(username, Role.town_staff, town_id=factories.town(town).id)


def record_in(town: str, volunteer_id: int, minutes: int, day: date, flags: str | None = None) -> ServiceRecord:
    r = record(volunteer_id, minutes, day)
    household = r.visit.order.item.household
    if town != "longquan":
        t = factories.town(town)
        household.town_id = t.id
        household.village.town_id = t.id
    r.visit.flags = flags
    db.session.flush()
    return r


# ---- bulk confirmation ------------------------------------------------------------------------------------------

def test_staff_filter_pending_records_and_confirm_all_matching_after_the_question(client):
    a, b = volunteer_login("vol-a"), volunteer_login("vol-b")
    march = [record_in("longquan", a.id, 60, date(2024, 3, 1)), record_in("longquan", b.id, 30, date(2024, 3, 5)),
             record_in("longquan", a.id, 45, date(2024, 3, 9))]
    flagged = record_in("longquan", b.id, 90, date(2024, 3, 6), flags="short")
    april = record_in("longquan", a.id, 120, date(2024, 4, 2))
    elsewhere = record_in("binhu", b.id, 60, date(2024, 3, 2))
    staff_login("city-h")
    db.session.commit()
    login(client, "city-h")
    town_id = factories.town("longquan").id
    query = f"?town={town_id}&from=2024-03-01&to=2024-03-31"
    page = client.get("/staff/hours" + query).get_data(as_text=True)
    assert f"/staff/records/{march[0].id}/confirm" in page and f"/staff/records/{april.id}/confirm" not in page
    assert f"/staff/records/{elsewhere.id}/confirm" not in page
    question = client.get("/staff/hours/confirm-all" + query)
    text = question.get_data(as_text=True)
    assert question.status_code == 200
    assert "确认 3 条记录（共 2 人）？" in text  # 3 records for 2 people: the flagged one is left out
    max_id = int(re.search(r'name="max_id" value="(\d+)"', text).group(1))
    late = record_in("longquan", b.id, 15, date(2024, 3, 20))  # arrives after the question: not confirmed
    db.session.commit()
    answer = client.post("/staff/hours/confirm-all", data={
        "csrf_token": csrf_token(client, "/staff/hours"), "town": town_id, "from": "2024-03-01", "to": "2024-03-31",
        "max_id": max_id}, follow_redirects=True)
    assert answer.status_code == 200
    db.session.expire_all()
    confirmed = {r.id for r in db.session.scalars(sa.select(ServiceRecord).where(ServiceRecord.confirmed_at.is_not(None)))}
    assert confirmed == {r.id for r in march}
    assert flagged.id not in confirmed and late.id not in confirmed and april.id not in confirmed
    assert db.session.scalar(sa.select(sa.func.count(AuditLog.id)).where(
        AuditLog.action == "service_record_confirmed")) == 3


def test_a_bad_filter_is_named_next_to_its_field_and_changes_nothing(client):
    vol = volunteer_login()
    record_in("longquan", vol.id, 60, date(2024, 3, 1))
    staff_login("town-h", "longquan")
    db.session.commit()
    login(client, "town-h")
    response = client.get("/staff/hours?from=2024-13-40&category=abc")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "invalid-feedback" in html and 'id="f-from"' in html
    answer = client.post("/staff/hours/confirm-all", data={"csrf_token": csrf_token(client, "/staff/hours"),
                                                           "from": "9999-99-99", "max_id": "100"})
    assert answer.status_code == 303
    assert db.session.scalar(sa.select(sa.func.count(ServiceRecord.id)).where(
        ServiceRecord.confirmed_at.is_not(None))) == 0


def test_town_staff_cannot_confirm_another_towns_records_in_bulk(client):
    vol = volunteer_login()
    other = record_in("binhu", vol.id, 60, date(2024, 3, 1))
    staff_login("town-lq", "longquan")
    db.session.commit()
    login(client, "town-lq")
    client.post("/staff/hours/confirm-all", data={"csrf_token": csrf_token(client, "/staff/hours"),
                                                  "town": factories.town("binhu").id, "max_id": other.id})
    db.session.expire_all()
    assert db.session.get(ServiceRecord, other.id).confirmed_at is None


# ---- star level, certificate, verification -----------------------------------------------------------------------

def test_the_volunteer_sees_their_star_level_and_the_way_to_the_next(client):
    vol = volunteer_login()
    staff = staff_login("city-s")
    for n in range(30):  # 30 x 8 h = 240 confirmed hours: 1 star, 60 h to 2 stars
        hours.confirm_record(record_in("longquan", vol.id, 480, date(2024, 1, 1) + timedelta(days=n)), staff,
                             utcnow())
    db.session.commit()
    login(client, "vol-a")
    html = client.get("/volunteer/hours").get_data(as_text=True)
    assert 'data-stars="1"' in html and "★☆☆☆☆" in html
    assert "60.00" in html and "300" in html


def _confirmed(vol, minutes=(90, 45)):
    staff = staff_login("city-c")
    for n, m in enumerate(minutes):
        hours.confirm_record(record_in("longquan", vol.id, m, date(2024, 3, 1) + timedelta(days=n)), staff, utcnow())
    return staff


@pytest.mark.skipif(not pdf.available() or not chinese_font(),
                    reason="WeasyPrint cannot load Pango, or no Chinese font, on this machine (.ci/run installs both)")
def test_the_certificate_pdf_has_extractable_text_and_a_qr_code_to_its_verification_page(client):
    import pypdf
    import zxingcpp

    vol = volunteer_login()
    vol.real_name = "李秀英"
    _confirmed(vol)
    db.session.commit()
    login(client, "vol-a")
    response = client.get("/volunteer/hours/certificate.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert "attachment" in response.headers["Content-Disposition"]
    number = db.session.scalar(sa.select(HoursCertificate.number))
    reader = pypdf.PdfReader(io.BytesIO(response.data))
    text = "".join(page.extract_text() for page in reader.pages)
    compact = "".join(text.split())
    assert number in compact and "2.25" in compact and "李秀英" in compact and "滕州市民政局" in compact
    assert "志愿服务时长证明" in compact  # Chinese text is real text, not boxes
    decoded = [b.text for page in reader.pages for image in page.images
               for b in zxingcpp.read_barcodes(image.image.convert("L"))]
    assert decoded == [f"http://localhost/verify/{number}"]
    audit = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "export"))
    assert audit.detail["kind"] == "hours_certificate" and audit.detail["number"] == number
    # the QR's address, opened by anyone: masked name, hours, period, nothing else
    page = client.get(urlsplit(decoded[0]).path)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'data-verdict="valid"' in html
    assert "李**" in html and "2.25" in html and "2024-03-01" in html and "2024-03-02" in html
    assert "李秀英" not in html and vol.id_masked not in html and "测试村" not in html


def test_the_verification_page_says_unknown_and_revoked(client, app):
    vol = volunteer_login()
    _confirmed(vol)
    staff_login("town-r", "longquan")
    db.session.commit()
    login(client, "vol-a")
    assert client.get("/volunteer/hours/certificate").status_code == 200
    number = db.session.scalar(sa.select(HoursCertificate.number))
    anonymous = app.test_client()
    unknown = anonymous.get("/verify/TZ2024-0000-0000-0000")
    assert unknown.status_code == 404 and 'data-verdict="unknown"' in unknown.get_data(as_text=True)
    assert anonymous.get("/verify?number=" + number.lower()).headers["Location"].endswith(f"/verify/{number}")
    client.post("/logout", data={"csrf_token": csrf_token(client, "/volunteer/hours")})
    login(client, "town-r")
    listed = client.get("/staff/certificates").get_data(as_text=True)
    assert number in listed
    client.post("/staff/certificates/revoke", data={"csrf_token": csrf_token(client, "/staff/certificates"),
                                                    "number": number, "reason": "记录有误",
                                                    "confirmed": "1"})
    revoked = anonymous.get(f"/verify/{number}")
    assert revoked.status_code == 200 and 'data-verdict="revoked"' in revoked.get_data(as_text=True)


# ---- calendars ---------------------------------------------------------------------------------------------------

def test_the_feed_url_is_shown_once_works_and_dies_when_rotated(client, app):
    vol = volunteer_login()
    order = accepted_order()
    visit = Visit(order_id=order.id, volunteer_id=vol.id, starts_at=utcnow() + timedelta(days=2),
                  ends_at=utcnow() + timedelta(days=2, hours=1))
    db.session.add(visit)
    db.session.commit()
    login(client, "vol-a")
    assert client.get("/account/calendar").status_code == 200
    first = TOKEN_RE.search(client.post("/account/calendar", data={
        "csrf_token": csrf_token(client, "/account/calendar")}).get_data(as_text=True)).group(1)
    assert first not in client.get("/account/calendar").get_data(as_text=True)  # shown only once
    anonymous = app.test_client()
    feed = anonymous.get(urlsplit(first).path)
    assert feed.status_code == 200 and feed.mimetype == "text/calendar"
    cal = vobject.readOne(feed.get_data(as_text=True))
    assert [e.uid.value.split("@")[0] for e in cal.vevent_list] == [f"visit-{visit.id}"]
    assert order.item.household.address not in feed.get_data(as_text=True)
    second = TOKEN_RE.search(client.post("/account/calendar", data={
        "csrf_token": csrf_token(client, "/account/calendar")}).get_data(as_text=True)).group(1)
    assert anonymous.get(urlsplit(first).path).status_code == 404
    assert anonymous.get(urlsplit(second).path).status_code == 200
    assert anonymous.get("/calendar/not-a-token.ics").status_code == 404


def test_staff_have_no_calendar_feed(client):
    staff_login("town-c", "longquan")
    db.session.commit()
    login(client, "town-c")
    assert client.get("/account/calendar").status_code == 404


def test_a_visit_downloads_as_an_audited_ics_file(client):
    order = accepted_order()
    visit = visits.plan_visit(order, Assignee(member_id=order.assignee_id), utcnow() + timedelta(days=1), 60, None,
                              utcnow())
    factories.user("cadre-x", Role.cadre, provider_id=order.provider_id, member_id=order.assignee_id)
    db.session.commit()
    login(client, "cadre-x")
    assert f"/unit/visits/{visit.id}.ics" in client.get(f"/unit/visits/{visit.id}").get_data(as_text=True)
    response = client.get(f"/unit/visits/{visit.id}.ics")
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    event = vobject.readOne(response.get_data(as_text=True)).vevent
    assert event.dtstart.value.astimezone().utcoffset() is not None
    assert event.dtend.value - event.dtstart.value == timedelta(hours=1)
    audit = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "export"))
    assert audit.detail == {"kind": "visit_ics", "visit_id": visit.id}
    other = accepted_order()
    stranger = visits.plan_visit(other, Assignee(member_id=other.assignee_id), utcnow() + timedelta(days=1), 60,
                                 None, utcnow())
    db.session.commit()
    assert client.get(f"/unit/visits/{stranger.id}.ics").status_code == 404


def test_without_weasyprint_the_pdf_link_says_to_print_from_the_browser(client, monkeypatch):
    vol = volunteer_login()
    _confirmed(vol)
    db.session.commit()

    def unavailable(_html):
        raise pdf.PdfUnavailable("no Pango here")

    monkeypatch.setattr(pdf, "html_to_pdf", unavailable)
    monkeypatch.setattr(pdf, "available", lambda: False)
    login(client, "vol-a")
    page = client.get("/volunteer/hours/certificate").get_data(as_text=True)
    assert "/volunteer/hours/certificate.pdf" not in page  # no PDF button where none can be made
    answer = client.get("/volunteer/hours/certificate.pdf", follow_redirects=True)
    assert answer.status_code == 200 and answer.mimetype == "text/html"
    assert "本服务器无法生成 PDF 文件" in answer.get_data(as_text=True)
