"""A user's own e-mail address and mobile number: a 6-digit code goes to the new address, and only once the user
types it back is the address stored as verified (the channels and "forgot password" use verified ones only).

Until then the new address lives only in the code's row, encrypted. Phones are stored encrypted with a mask for
display and a keyed hash for the "forgot password" lookup; neither the address nor the code is ever logged or
audited (the audit row names the kind of contact only).
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _

from socialforce.platform import crypto
from socialforce.platform.models import User
from socialforce.platform.services import ServiceError, accounts, audit
from socialforce.platform.services import one_time_codes as codes

CODE_MINUTES = 15
KINDS = (codes.EMAIL, codes.PHONE)
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
PHONE_RE = re.compile(r"^1[3-9]\d{9}$")


def clean_address(kind: str, address: str | None) -> str:
    """The address as stored (e-mail lower-cased, phone digits only), or ServiceError naming the field."""
    text = (address or "").strip()
    if kind == codes.EMAIL:
        text = text.lower()
        if len(text) > 254 or not EMAIL_RE.match(text):
            raise ServiceError(_("Enter an e-mail address such as name@example.com."), status=400, field="address")
        return text
    text = re.sub(r"[\s\-]", "", text)
    if not PHONE_RE.match(text):
        raise ServiceError(_("A mobile number has 11 digits and starts with 1."), status=400, field="address")
    return text


def start(user: User, kind: str, address: str | None, now: datetime) -> codes.Delivery:
    """Send a code to a new e-mail address or mobile number of the user (after the commit); rate-limited."""
    if kind not in KINDS:
        raise ServiceError(_("Choose e-mail or mobile phone."), status=400, field="kind")
    clean = clean_address(kind, address)
    channel = "email" if kind == codes.EMAIL else "sms"
    if not codes.channels_configured()[channel]:
        raise ServiceError(_("This platform cannot send e-mail yet.") if kind == codes.EMAIL
                           else _("This platform cannot send text messages yet."), status=409, field="address")
    config = current_app.config
    minutes = int(config["FORGOT_WINDOW_MINUTES"])
    if not accounts.reserve("verify-ac", f"user:{user.id}", int(config["VERIFY_MAX_PER_ACCOUNT"]), minutes, now):
        raise ServiceError(_("Too many codes were sent. Try again in %(minutes)s minutes.", minutes=minutes),
                           status=429, field="address")
    code = codes.digits_code()
    codes.issue(user, kind, code, timedelta(minutes=CODE_MINUTES), now, actor=user, target=clean)
    audit.record("contact_code_sent", user, "user", user.id, kind=kind)
    emails, phones = ((clean,), ()) if kind == codes.EMAIL else ((), (clean,))
    return codes.delivery(user, code, CODE_MINUTES, emails, phones, verifying=True)


def confirm(user: User, kind: str, code: str | None, now: datetime) -> str | None:
    """Check the code sent to the new address and store the address as verified; returns its shown form, or None
    for a wrong, used or expired code (returned, not raised, so the counted try is committed)."""
    if kind not in KINDS:
        raise ServiceError(_("Choose e-mail or mobile phone."), status=400, field="kind")
    row = codes.try_code(user.id, (kind,), code or "", now)
    if row is None or row.target_enc is None:
        return None
    address = crypto.decrypt(row.target_enc)
    if kind == codes.EMAIL:
        user.email, user.email_verified_at = address, now
        shown = address
    else:
        user.phone_enc, user.phone_masked = crypto.encrypt(address), crypto.mask_phone(address)
        user.phone_hash, user.phone_verified_at = crypto.lookup_hash("phone:" + address), now
        shown = user.phone_masked
    audit.record("contact_verified", user, "user", user.id, kind=kind)
    return shown
