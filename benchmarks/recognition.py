"""Benchmark a busy calendar feed and a long hours certificate, on a scratch SQLite database.

    python -m benchmarks.recognition --singles 400 --series 6 --records 300

Builds one pairing-unit cadre with `series` weekly visit series of a year (52 visits each, one cancelled per
series: an EXDATE) plus `singles` one-off visits, and one volunteer with `records` confirmed service records. Times
`calendars.build_feed` (the whole feed: query, RRULE regularity check, writing), the certificate issue and its
PDF (WeasyPrint, Chinese font, QR code). Prints JSON (milliseconds, bytes); the database is deleted afterwards.
"""
from __future__ import annotations

import argparse
import base64
import io
import json
import os
import statistics
import tempfile
import time
from datetime import date, datetime, timedelta

import flask_migrate
from flask import render_template

from socialforce import create_app
from socialforce.platform import crypto, pdf, weekmask
from socialforce.platform.extensions import db
from socialforce.platform.localtime import to_utc
from socialforce.platform.models import (
    Household,
    Order,
    OrderState,
    PairingUnit,
    Provider,
    ProviderKind,
    ProviderMember,
    ProviderStatus,
    Role,
    ServiceCategory,
    ServiceItem,
    ServiceRecord,
    Town,
    User,
    Village,
    Visit,
    VisitSeries,
    VisitStatus,
    Volunteer,
)
from socialforce.platform.reference import ensure_reference_data
from socialforce.platform.services import calendars, certificates


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)


def _world(singles: int, series: int, records: int) -> tuple[User, Volunteer]:
    town = db.session.query(Town).first()
    category = db.session.query(ServiceCategory).first()
    village = Village(town_id=town.id, name="基准村", lat=town.lat, lon=town.lon)
    db.session.add(village)
    db.session.flush()
    unit = Provider(kind=ProviderKind.unit, name="基准单位", status=ProviderStatus.approved, town_id=town.id,
                    lat=town.lat, lon=town.lon)
    db.session.add(unit)
    db.session.flush()
    db.session.add(PairingUnit(provider_id=unit.id, unit_type="department"))
    cadre = ProviderMember(provider_id=unit.id, role="cadre", name="基准干部")
    db.session.add(cadre)
    db.session.flush()
    user = User(username="bench-cadre", password_hash="x", display_name="基准干部", role=Role.cadre,
                provider_id=unit.id, member_id=cadre.id)
    db.session.add(user)
    orders = []
    for n in range(series + 1 + singles // 4):  # the one-off visits spread over many households' orders
        household = Household(code=f"B{n:05d}", town_id=town.id, village_id=village.id, head_name="户主",
                              address=f"基准村{n}号")
        db.session.add(household)
        db.session.flush()
        item = ServiceItem(household_id=household.id, category_id=category.id, description="基准", windows=weekmask.ALL)
        db.session.add(item)
        db.session.flush()
        order = Order(item_id=item.id, provider_id=unit.id, assignee_id=cadre.id, state=OrderState.scheduled)
        db.session.add(order)
        orders.append(order)
    db.session.flush()
    first = to_utc(datetime(2026, 1, 5, 9))
    for n in range(series):
        start = first + timedelta(hours=2 * n)
        s = VisitSeries(order_id=orders[n].id, rrule="FREQ=WEEKLY;INTERVAL=1;COUNT=52", starts_at=start,
                        duration_minutes=60, expanded_until=start + timedelta(weeks=52))
        db.session.add(s)
        db.session.flush()
        for week in range(52):
            at = start + timedelta(weeks=week)
            db.session.add(Visit(order_id=orders[n].id, series_id=s.id, assignee_id=cadre.id, starts_at=at,
                                 ends_at=at + timedelta(hours=1),
                                 status=VisitStatus.cancelled if week == 10 else VisitStatus.planned))
    for n in range(singles):
        at = first + timedelta(days=n % 360, hours=14 + n % 3)
        db.session.add(Visit(order_id=orders[series + n % (singles // 4 + 1)].id, assignee_id=cadre.id, starts_at=at,
                             ends_at=at + timedelta(minutes=90)))
    provider = Provider(kind=ProviderKind.volunteer, name="基准志愿者", status=ProviderStatus.approved,
                        town_id=town.id, lat=town.lat, lon=town.lon)
    db.session.add(provider)
    db.session.flush()
    volunteer = Volunteer(provider_id=provider.id, real_name="基准志愿者", id_number_enc=crypto.encrypt("x"),
                          id_number_hash="bench", id_masked="3704**********0000", phone_enc=crypto.encrypt("1"),
                          phone_masked="138****0000")
    db.session.add(volunteer)
    db.session.flush()
    for n in range(records):
        at = first + timedelta(days=n)
        visit = Visit(order_id=orders[-1].id, volunteer_id=volunteer.id, starts_at=at, ends_at=at + timedelta(hours=2),
                      status=VisitStatus.completed)
        db.session.add(visit)
        db.session.flush()
        db.session.add(ServiceRecord(visit_id=visit.id, volunteer_id=volunteer.id, served_on=date(2026, 1, 5)
                                     + timedelta(days=n), place="基准村", content=category.name_zh, minutes=120,
                                     confirmed_at=at + timedelta(days=1)))
    db.session.commit()
    return user, volunteer


def main() -> None:
    """Run the benchmark and print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--singles", type=int, default=400)
    parser.add_argument("--series", type=int, default=6)
    parser.add_argument("--records", type=int, default=300)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="bench-recognition-")
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=f"sqlite:///{os.path.join(folder, 'bench.db')}",
                     SERVER_NAME="bench.local")
    result: dict = {"singles": args.singles, "series": args.series, "records": args.records}
    with app.app_context():
        flask_migrate.upgrade()
        ensure_reference_data()
        db.session.commit()
        user, volunteer = _world(args.singles, args.series, args.records)
        now = to_utc(datetime(2026, 1, 1, 8))
        times, body = [], b""
        for _ in range(args.runs):
            db.session.expire_all()
            start = time.perf_counter()
            body = calendars.build_feed(user, now, lambda v: f"https://bench.local/unit/visits/{v.id}")
            times.append(_ms(start))
        result.update(feed_events=body.count(b"BEGIN:VEVENT"), feed_rrules=body.count(b"RRULE:"),
                      feed_bytes=len(body), feed_p50_ms=round(statistics.median(times), 1), feed_max_ms=max(times))
        start = time.perf_counter()
        cert = certificates.issue(volunteer, None, now)
        db.session.commit()
        result["certificate_issue_ms"] = _ms(start)
        if pdf.available():
            with app.test_request_context():
                qr = "data:image/png;base64," + base64.b64encode(certificates.qr_png("https://bench.local/v")).decode()
                html = render_template("volunteer/visits/certificate.html", cert=cert, verify_url="https://x/v",
                                       qr=qr, for_pdf=True, pdf_available=True)
            pdf_times, data = [], b""
            for _ in range(3):
                start = time.perf_counter()
                data = pdf.html_to_pdf(html)
                pdf_times.append(_ms(start))
            import pypdf  # the dev extra

            result.update(pdf_pages=len(pypdf.PdfReader(io.BytesIO(data)).pages), pdf_bytes=len(data),
                          pdf_p50_ms=round(statistics.median(pdf_times), 1))
        db.engine.dispose()
    result.update(cpu_count=os.cpu_count(), load_avg_1m=round(os.getloadavg()[0], 2))
    print(json.dumps(result))
    for name in os.listdir(folder):
        os.unlink(os.path.join(folder, name))
    os.rmdir(folder)


if __name__ == "__main__":
    main()
