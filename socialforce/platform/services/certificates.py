"""Volunteer hours certificates (志愿服务时长证明): a unique public number, the issuing organisation and its contact
(from config), the confirmed records, and a QR code to the public verification page.

Issuing is idempotent: a certificate's content (volunteer, confirmed minutes, record count, period) has one
fingerprint, unique in the table, so downloading again, or twice at once, gives the same number; new confirmed hours
give a new certificate and number (older ones stay valid for what they certified). Numbers are random (60 bits,
Crockford base 32), so nobody can walk the verification page from one number to the next. Staff of the volunteer's
town (or the city) revoke a certificate with a reason (audited); its number then verifies as revoked, and its
fingerprint is freed so the volunteer's next download is a new certificate.

The verification page shows for a number only: valid or revoked, the masked name, the hours and the period.
"""
from __future__ import annotations

import hashlib
import io
import secrets
from dataclasses import dataclass
from datetime import date, datetime

import segno
import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from socialforce.platform import scoping
from socialforce.platform.extensions import db
from socialforce.platform.localtime import to_local
from socialforce.platform.models import HoursCertificate, Provider, ServiceRecord, User, Volunteer
from socialforce.platform.services import ServiceError, audit
from socialforce.platform.services.provider_profiles import mask_name

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base 32: no I, L, O, U
NUMBER_PREFIX = "TZ"  # Tengzhou
MAX_NUMBER_LENGTH = 32


@dataclass(frozen=True)
class Certificate:
    """The data printed on a volunteer's hours certificate."""

    number: str
    name: str
    id_masked: str
    total_minutes: int
    records: list[ServiceRecord]
    period_from: date
    period_to: date
    issuer: str
    contact: str
    issued_on: date

    @property
    def total_hours(self) -> float:
        """Confirmed hours, to two decimals."""
        return round(self.total_minutes / 60, 2)


@dataclass(frozen=True)
class Verification:
    """What the public verification page says about a number."""

    number: str
    revoked: bool
    name_masked: str
    hours: float
    period_from: date
    period_to: date
    issued_on: date
    issuer: str


def new_number(year: int) -> str:
    """A fresh random certificate number, e.g. TZ2026-7K3Q-9XW2-P4MB (60 random bits)."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(12))
    return f"{NUMBER_PREFIX}{year}-{body[:4]}-{body[4:8]}-{body[8:]}"


def normalise_number(text: str | None) -> str:
    """A typed number in its stored form: upper case, no spaces; O read as 0, I and L as 1 (Crockford)."""
    cleaned = "".join((text or "").split()).upper()[:MAX_NUMBER_LENGTH + 8]
    head, rest = (NUMBER_PREFIX, cleaned[len(NUMBER_PREFIX):]) if cleaned.startswith(NUMBER_PREFIX) else ("", cleaned)
    return head + rest.replace("O", "0").replace("I", "1").replace("L", "1")


def confirmed_records(volunteer: Volunteer) -> list[ServiceRecord]:
    """A volunteer's confirmed service records, oldest first (what a certificate lists)."""
    return list(db.session.scalars(
        sa.select(ServiceRecord).where(ServiceRecord.volunteer_id == volunteer.id,
                                       ServiceRecord.confirmed_at.is_not(None))
        .order_by(ServiceRecord.served_on, ServiceRecord.id)))


def _fingerprint(volunteer_id: int, minutes: int, count: int, period_from: date, period_to: date) -> str:
    text = f"{volunteer_id}:{minutes}:{count}:{period_from.isoformat()}:{period_to.isoformat()}"
    return hashlib.sha256(text.encode()).hexdigest()


def _current(fingerprint: str) -> HoursCertificate | None:
    return db.session.scalar(sa.select(HoursCertificate).where(HoursCertificate.fingerprint == fingerprint))


def issue(volunteer: Volunteer, actor: User | None, now: datetime) -> Certificate | None:
    """The volunteer's certificate over all their confirmed records (issued once per content), or None without
    any confirmed record."""
    records = confirmed_records(volunteer)
    if not records:
        return None
    total = sum(r.minutes for r in records)
    period_from, period_to = records[0].served_on, records[-1].served_on
    fingerprint = _fingerprint(volunteer.id, total, len(records), period_from, period_to)
    row = _current(fingerprint)
    if row is None:
        try:
            with db.session.begin_nested():
                row = HoursCertificate(number=new_number(to_local(now).year), volunteer_id=volunteer.id,
                                       fingerprint=fingerprint, name_masked=mask_name(volunteer.real_name),
                                       total_minutes=total, record_count=len(records), period_from=period_from,
                                       period_to=period_to, issued_at=now)
                db.session.add(row)
        except sa.exc.IntegrityError:  # the same certificate issued by a concurrent download: use that one
            row = _current(fingerprint)
            if row is None:
                raise
        else:
            audit.record("hours_certificate_issued", actor, "hours_certificate", row.id, volunteer_id=volunteer.id,
                         minutes=total, records=len(records))
    config = current_app.config
    return Certificate(number=row.number, name=volunteer.real_name, id_masked=volunteer.id_masked,
                       total_minutes=total, records=records, period_from=period_from, period_to=period_to,
                       issuer=config["CERTIFICATE_ISSUER"], contact=config["CERTIFICATE_CONTACT"],
                       issued_on=to_local(row.issued_at).date())


def verify(number: str) -> Verification | None:
    """What a certificate number certifies, or None for a number never issued."""
    number = normalise_number(number)
    if not number or len(number) > MAX_NUMBER_LENGTH:
        return None
    row = db.session.scalar(sa.select(HoursCertificate).where(HoursCertificate.number == number))
    if row is None:
        return None
    return Verification(number=row.number, revoked=row.revoked_at is not None, name_masked=row.name_masked,
                        hours=round(row.total_minutes / 60, 2), period_from=row.period_from,
                        period_to=row.period_to, issued_on=to_local(row.issued_at).date(),
                        issuer=current_app.config["CERTIFICATE_ISSUER"])


def scoped_certificates(user: User) -> sa.Select:
    """Certificates of volunteers in a staff user's scope (their town's volunteers; city staff: all), newest first."""
    query = (sa.select(HoursCertificate).join(Volunteer, Volunteer.id == HoursCertificate.volunteer_id)
             .join(Provider, Provider.id == Volunteer.provider_id)
             .order_by(HoursCertificate.issued_at.desc(), HoursCertificate.id.desc()))
    return query.where(scoping.provider_filter(user))


def revoke(user: User, number: str, reason: str, now: datetime) -> HoursCertificate:
    """Revoke a certificate in the user's scope with a reason (audited); a second revocation is refused."""
    reason = (reason or "").strip()
    if len(reason) < 2:
        raise ServiceError(_("Please give a reason."), status=400, field="reason")
    row = db.session.scalar(scoped_certificates(user).where(HoursCertificate.number == normalise_number(number)))
    if row is None:
        raise ServiceError(_("No such certificate in your area."), status=404)
    done = db.session.execute(
        sa.update(HoursCertificate).where(HoursCertificate.id == row.id, HoursCertificate.revoked_at.is_(None))
        .values(revoked_at=now, revoked_by_id=user.id, revoke_reason=reason[:200], fingerprint=None)
        .execution_options(synchronize_session=False))
    if done.rowcount != 1:
        raise ServiceError(_("This certificate was already revoked."))
    db.session.refresh(row)
    audit.record("hours_certificate_revoked", user, "hours_certificate", row.id, number=row.number,
                 reason=reason[:200])
    return row


def qr_png(url: str, scale: int = 6) -> bytes:
    """The QR code (segno, error correction M) of a URL as PNG bytes."""
    out = io.BytesIO()
    segno.make(url, error="m", micro=False).save(out, kind="png", scale=scale, border=4)
    return out.getvalue()
