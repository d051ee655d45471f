"""External channels for notices: the log, e-mail over SMTP and SMS through a signed-template gateway.

Every sender keeps the small `send(recipient, subject, body)` interface (one-time codes go through it directly);
the outbox calls `deliver(recipient, outgoing)`, which also carries the notice's kind, its display params and the
message's idempotency key (the e-mail's Message-ID, the SMS request's `out_id`).

Errors say what the outbox should do: `NoAddress` (the recipient has no verified address on the channel: the
message is dropped with a record), `PermanentDeliveryError` (retrying cannot help: dead-lettered, listed for city
staff), anything else (a timeout, a refused connection, a 5xx, a rate limit) is retried with backoff.

The SMS gateway works the way Chinese SMS providers do (Aliyun, Tencent Cloud): the message is a template code
approved in advance plus JSON parameters, signed with the application's key and secret. The request:

    POST SMS_GATEWAY_URL   Content-Type: application/json
    X-App-Key: <app key>   X-Timestamp: <unix seconds>   X-Nonce: <random hex>
    X-Signature: base64(HMAC-SHA256(app secret, "POST\\n<path>\\n<timestamp>\\n<nonce>\\n<sha256 hex of body>"))
    {"phone": "...", "sign_name": "...", "template_code": "...", "template_params": {...}, "out_id": "<key>"}

and the answer is JSON {"code": "OK", ...} or a business error code such as "isv.BUSINESS_LIMIT_CONTROL".
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import smtplib
import ssl
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate
from typing import Protocol
from urllib.parse import urlsplit

import sqlalchemy as sa

from socialforce.platform import crypto
from socialforce.platform.extensions import db
from socialforce.platform.models import ProviderMember, Role, User, Volunteer

log = logging.getLogger("socialforce.notifications")

TEXT_TEMPLATE = "text"  # the kind whose template carries free text: {"text": ...}
SMS_PARAM_MAX = 35  # characters per template variable (the providers' limit)
# Gateway business codes worth retrying later (rate limits, the provider's own trouble); any other code is final.
SMS_TRANSIENT_CODES = frozenset({"isv.BUSINESS_LIMIT_CONTROL", "isp.SYSTEM_ERROR", "isp.SERVICE_UNAVAILABLE",
                                 "Throttling", "Throttling.User"})


class PermanentDeliveryError(Exception):
    """Retrying cannot help (a refused template, a bad number, a wrong signature): the message is dead-lettered."""


class NoAddress(PermanentDeliveryError):
    """The recipient has no verified address on this channel: the message is dropped with a record."""


class TransientDeliveryError(Exception):
    """The channel failed this time (timeout, 5xx, rate limit): the message is retried after a backoff."""


@dataclass(frozen=True)
class Outgoing:
    """One message for one recipient: texts, the notice's kind and display params, and its idempotency key."""

    subject: str
    body: str
    kind: str = TEXT_TEMPLATE
    params: dict = field(default_factory=dict)
    key: str = ""


class Sender(Protocol):
    """An external channel: send one message to one user or raise."""

    def send(self, recipient: User, subject: str, body: str) -> None: ...


def deliver(sender: Sender, recipient: User, outgoing: Outgoing) -> None:
    """Send through `sender`, passing kind, params and key when it understands them (else subject and body)."""
    if hasattr(sender, "deliver"):
        sender.deliver(recipient, outgoing)
    else:
        sender.send(recipient, outgoing.subject, outgoing.body)


class LogSender:
    """Writes the message to the application log (the default channel)."""

    def send(self, recipient: User, subject: str, body: str) -> None:
        """Log the user id and text (texts hold no personal data)."""
        log.info("notification for user %s: %s: %s", recipient.id, subject, body.replace("\n", " "))


def email_of(user: User) -> str | None:
    """The user's e-mail address, once verified."""
    return user.email if user.email and user.email_verified_at else None


def phone_of(user: User) -> str | None:
    """The user's mobile number: their own once verified, else the worker's member record or the volunteer's
    registration."""
    token = None
    if user.phone_enc and user.phone_verified_at:
        token = user.phone_enc
    elif user.member_id is not None:
        token = db.session.scalar(sa.select(ProviderMember.phone_enc).where(ProviderMember.id == user.member_id))
    elif user.role == Role.volunteer:
        token = db.session.scalar(sa.select(Volunteer.phone_enc).where(Volunteer.provider_id == user.provider_id))
    return crypto.decrypt(token) if token else None


class EmailSender:
    """Sends e-mail through an SMTP server (SMTP_HOST/PORT; optional STARTTLS and login)."""

    def __init__(self, host: str, port: int, from_address: str, user: str | None = None,
                 password: str | None = None, starttls: bool = False, timeout: float = 10.0,
                 address_of: Callable[[User], str | None] = email_of):
        self.host, self.port, self.from_address = host, port, from_address
        self.user, self.password, self.starttls, self.timeout = user, password, starttls, timeout
        self.address_of = address_of

    def send(self, recipient: User, subject: str, body: str) -> None:
        """Send one plain-text e-mail (a fresh Message-ID)."""
        self.deliver(recipient, Outgoing(subject, body, key=uuid.uuid4().hex))

    def deliver(self, recipient: User, outgoing: Outgoing) -> None:
        """Send one plain-text e-mail whose Message-ID is built from the idempotency key."""
        address = self.address_of(recipient)
        if not address:
            raise NoAddress("the recipient has no verified e-mail address")
        domain = self.from_address.rpartition("@")[2] or "socialforce.local"
        message = EmailMessage()
        message["Subject"], message["From"], message["To"] = outgoing.subject, self.from_address, address
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = f"<{outgoing.key or uuid.uuid4().hex}@{domain}>"
        message.set_content(outgoing.body)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.user:
                    smtp.login(self.user, self.password or "")
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _ in error.recipients.values()]
            if all(500 <= code < 600 for code in codes):
                raise PermanentDeliveryError(f"the SMTP server refused the recipient ({codes[0]})") from None
            raise TransientDeliveryError(f"the SMTP server deferred the recipient ({codes[0]})") from None
        except smtplib.SMTPResponseException as error:
            if 500 <= error.smtp_code < 600:
                raise PermanentDeliveryError(f"the SMTP server answered {error.smtp_code}") from None
            raise TransientDeliveryError(f"the SMTP server answered {error.smtp_code}") from None


def sign(secret: str, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    """The gateway signature: base64 HMAC-SHA256 over method, path, timestamp, nonce and the body's SHA-256."""
    text = "\n".join((method, path, timestamp, nonce, hashlib.sha256(body).hexdigest()))
    return base64.b64encode(hmac.new(secret.encode(), text.encode(), hashlib.sha256).digest()).decode()


def template_params(params: dict) -> dict[str, str]:
    """Template variables as strings of at most SMS_PARAM_MAX characters (the gateway's limit)."""
    return {key: str(value)[:SMS_PARAM_MAX] for key, value in params.items() if value is not None}


class SmsSender:
    """Sends SMS through a signed-template gateway (see the module docstring): kind -> template code."""

    def __init__(self, url: str, app_key: str | None = None, app_secret: str | None = None, sign_name: str = "",
                 templates: dict[str, str] | None = None, timeout: float = 10.0,
                 phone_of: Callable[[User], str | None] = phone_of, token: str | None = None):
        if urlsplit(url).scheme not in ("http", "https"):
            raise ValueError("SMS_GATEWAY_URL must be an http(s) URL")
        self.url, self.app_key, self.app_secret, self.sign_name = url, app_key or "", app_secret or "", sign_name
        self.templates, self.timeout, self.phone_of, self.token = dict(templates or {}), timeout, phone_of, token

    def send(self, recipient: User, subject: str, body: str) -> None:
        """Send free text through the generic "text" template (a fresh idempotency key)."""
        self.deliver(recipient, Outgoing(subject, body, key=uuid.uuid4().hex))

    def template_for(self, outgoing: Outgoing) -> tuple[str, dict[str, str]]:
        """The template code and variables: the kind's own template, else the "text" template with the body."""
        code = self.templates.get(outgoing.kind)
        if code and outgoing.kind != TEXT_TEMPLATE:
            return code, template_params(outgoing.params)
        code = self.templates.get(TEXT_TEMPLATE)
        if not code:
            raise PermanentDeliveryError(f"no SMS template for {outgoing.kind!r} and no 'text' template")
        return code, {"text": outgoing.body[:200]}

    def deliver(self, recipient: User, outgoing: Outgoing) -> None:
        """POST one signed template request; raises TransientDeliveryError or PermanentDeliveryError on failure."""
        phone = self.phone_of(recipient)
        if not phone:
            raise NoAddress("the recipient has no verified mobile number")
        code, variables = self.template_for(outgoing)
        body = json.dumps({"phone": phone, "sign_name": self.sign_name, "template_code": code,
                           "template_params": variables, "out_id": outgoing.key or uuid.uuid4().hex},
                          ensure_ascii=False, sort_keys=True).encode()
        timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
        path = urlsplit(self.url).path or "/"
        headers = {"Content-Type": "application/json", "X-App-Key": self.app_key, "X-Timestamp": timestamp,
                   "X-Nonce": nonce, "X-Signature": sign(self.app_secret, "POST", path, timestamp, nonce, body)}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # nosec B310 (scheme checked)
                answer = response.read()
        except urllib.error.HTTPError as error:
            if error.code >= 500 or error.code == 429:
                raise TransientDeliveryError(f"SMS gateway answered {error.code}") from None
            raise PermanentDeliveryError(f"SMS gateway answered {error.code}") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            raise TransientDeliveryError(f"SMS gateway unreachable: {error}") from None
        try:
            result = json.loads(answer or b"{}")
        except ValueError:
            raise TransientDeliveryError("SMS gateway answered something that is not JSON") from None
        status = str(result.get("code", "")) if isinstance(result, dict) else ""
        if status == "OK":
            return
        if status in SMS_TRANSIENT_CODES:
            raise TransientDeliveryError(f"SMS gateway: {status}")
        raise PermanentDeliveryError(f"SMS gateway: {status or 'no code'}")
