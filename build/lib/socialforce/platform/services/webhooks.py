"""Webhooks for partner systems: order and visit events, signed with HMAC-SHA256, delivered and retried through the
outbox (channel "webhook") like every other message, and listed on the failed-messages page when they give up.

Which events: every order state change (`orders.transition` audits "order_<state>") and the visit actions that
are audited ("visit_planned", "visit_checked_in", ...). `audit.record` calls `on_audit`, so a new audited action is
one entry in VISIT_EVENTS, and the outbox row is written in the same transaction as the change: it goes out only
if the change committed. A partner hears about the orders and visits of its own towns only, with the scope
orders:read (order events) or visits:read (visit events), and only while its client is live.

The request: POST <webhook_url>, Content-Type application/json, body {"id", "event", "order_id", "visit_id",
"state", "occurred_at"} (ids, states and times: no personal data), and the headers

    Socialforce-Event: order.accepted
    Socialforce-Delivery: <the outbox message's idempotency key, the same on every retry>
    Socialforce-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(webhook secret, "<t>.<body>")>

The receiver recomputes the signature over the raw body, compares in constant time, refuses an old `t` (replay)
and drops a Delivery id it has seen. A 2xx answer is success; 410 and other 4xx (but 408 and 429) are final; the
rest (5xx, timeouts, refused connections) are retried with the outbox's doubling backoff."""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa
from flask import current_app

from socialforce.platform.extensions import db
from socialforce.platform.localtime import LOCAL_TZ
from socialforce.platform.models import (
    ApiClient,
    Household,
    Order,
    OutboxMessage,
    OutboxStatus,
    ServiceItem,
    Visit,
    utcnow,
)
from socialforce.platform.services import partners
from socialforce.platform.services.channels import PermanentDeliveryError, TransientDeliveryError

log = logging.getLogger("socialforce.webhooks")

CHANNEL = "webhook"
VISIT_EVENTS = {"visit_planned": "visit.planned", "visit_rescheduled": "visit.rescheduled",
                "visit_checked_in": "visit.checked_in", "visit_checked_out": "visit.checked_out",
                "visit_cancelled": "visit.cancelled"}
SIGNATURE_HEADER = "Socialforce-Signature"
EVENT_HEADER = "Socialforce-Event"
DELIVERY_HEADER = "Socialforce-Delivery"
BATCH = 200

Post = Callable[[str, bytes, dict[str, str], float], int]


def on_audit(action: str, object_type: str | None, object_id: int | None) -> int:
    """Queue the webhooks an audited action stands for (order and visit events); how many were queued."""
    if object_id is None:
        return 0
    if object_type == "order" and action.startswith("order_"):
        order = db.session.get(Order, object_id)
        return enqueue("order." + action.removeprefix("order_"), order, None) if order else 0
    if object_type == "visit" and action in VISIT_EVENTS:
        visit = db.session.get(Visit, object_id)
        return enqueue(VISIT_EVENTS[action], visit.order, visit) if visit else 0
    return 0


def enqueue(event: str, order: Order, visit: Visit | None, now: datetime | None = None) -> int:
    """One outbox message per live partner with a webhook, the scope and the order's town; flushes."""
    now = now or utcnow()
    scope = "visits:read" if visit is not None else "orders:read"
    town_id = db.session.scalar(sa.select(Household.town_id).join(ServiceItem).where(ServiceItem.id == order.item_id))
    targets = [c for c in db.session.scalars(sa.select(ApiClient).where(
        ApiClient.webhook_url.is_not(None), ApiClient.revoked_at.is_(None), ApiClient.expires_at > now))
        if town_id in (c.town_ids or []) and scope in c.scope_list]
    state = str(visit.status) if visit is not None else str(order.state)
    occurred = now.replace(tzinfo=UTC).astimezone(LOCAL_TZ).isoformat(timespec="seconds")
    for client in targets:
        db.session.add(OutboxMessage(channel=CHANNEL, api_client_id=client.id, next_attempt_at=now, payload={
            "event": event, "order_id": order.id, "visit_id": visit.id if visit is not None else None,
            "state": state, "occurred_at": occurred}))
    if targets:
        db.session.flush()
    return len(targets)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value: t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<body>">."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def http_post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST the body; the answer's status (an HTTP error's status too); raises on no answer at all."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - staff-registered http(s)
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _send(message: OutboxMessage, client: ApiClient, post: Post) -> None:
    """Sign and post one delivery; raise the outbox's error classes on failure."""
    body = json.dumps({"id": message.idempotency_key, **(message.payload or {})}, separators=(",", ":"),
                      sort_keys=True).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "Socialforce-Webhooks/1",
               EVENT_HEADER: (message.payload or {}).get("event", ""),
               DELIVERY_HEADER: message.idempotency_key or f"outbox-{message.id}",
               SIGNATURE_HEADER: sign(partners.webhook_secret(client) or "", int(time.time()), body)}
    try:
        status = post(client.webhook_url, body, headers, current_app.config["NOTIFY_TIMEOUT_SECONDS"])
    except OSError as error:  # refused, unreachable, timed out
        raise TransientDeliveryError(type(error).__name__) from error
    if 200 <= status < 300:
        return
    if 400 <= status < 500 and status not in (408, 429):
        raise PermanentDeliveryError(f"the partner answered {status}")
    raise TransientDeliveryError(f"the partner answered {status}")


def deliver_pending(now: datetime, post: Post | None = None) -> dict[str, int]:
    """Send every due webhook (called by the outbox's per-minute delivery); counts by outcome."""
    from socialforce.platform.services.notifications import _claim, _record_failure

    post = post or http_post
    due = list(db.session.scalars(sa.select(OutboxMessage.id).where(
        OutboxMessage.channel == CHANNEL, OutboxMessage.status == OutboxStatus.pending,
        OutboxMessage.next_attempt_at <= now).order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(BATCH)))
    db.session.commit()
    counts = {"sent": 0, "retry": 0, "failed": 0, "skipped": 0, "dropped": 0}
    for message_id in due:
        message = _claim(message_id, now)
        if message is None:
            counts["skipped"] += 1
            continue
        client = db.session.get(ApiClient, message.api_client_id)
        if client is None or client.webhook_url is None or not partners.is_live(client, now):
            message.status, message.last_error = OutboxStatus.dropped, "partner revoked or expired"
            db.session.commit()
            counts["dropped"] += 1
            continue
        try:
            _send(message, client, post)
        except Exception as error:  # noqa: BLE001 - any failure is recorded and retried by the outbox's rules
            outcome = _record_failure([message], error)
            log.warning("webhook %s (%s) attempt %s failed: %s", message_id,
                        (message.payload or {}).get("event"), message.attempts, error)
            counts[outcome] += 1
            continue
        message.status, message.sent_at = OutboxStatus.sent, now
        db.session.commit()
        counts["sent"] += 1
    return counts
