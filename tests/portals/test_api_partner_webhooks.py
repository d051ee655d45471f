"""Partners' webhooks: order and visit events of their towns, signed with HMAC-SHA256 over "<t>.<body>", delivered
through the outbox (channel "webhook") to a real local HTTP server, retried, and listed for city staff when they die."""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa

from socialforce.platform.extensions import db
from socialforce.platform.models import (
    Household,
    Order,
    OrderState,
    OutboxMessage,
    OutboxStatus,
    ServiceItem,
    Visit,
    VisitStatus,
    utcnow,
)
from socialforce.platform.services import notifications, orders, webhooks
from socialforce.platform.services.visits.checkin import check_in
from tests.portals.api_support import user
from tests.portals.test_api_partner import partner
from tests.security.filling import client_for


class Receiver:
    """A partner's webhook endpoint on 127.0.0.1 answering `status`, keeping every request it got."""

    def __init__(self):
        self.status = 200
        self.got: list[tuple[dict, bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the http.server name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.got.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def _dispatched_town() -> int:
    """The town with the most dispatched orders (the events below cancel them)."""
    return db.session.execute(sa.select(Household.town_id, sa.func.count()).select_from(Order).join(ServiceItem)
                              .join(Household).where(Order.state == OrderState.dispatched)
                              .group_by(Household.town_id).order_by(sa.func.count().desc())).first()[0]


def _order_in(town_id: int, state: OrderState) -> Order:
    return db.session.scalar(sa.select(Order).join(ServiceItem).join(Household).where(
        Household.town_id == town_id, Order.state == state).order_by(Order.id))


def _verify(secret: str, headers: dict, body: bytes) -> bool:
    parts = dict(p.split("=", 1) for p in headers["socialforce-signature"].split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


def _deliver(minutes: int = 0) -> dict:
    return webhooks.deliver_pending(utcnow() + timedelta(minutes=minutes))


def test_an_order_event_reaches_the_partner_signed_and_only_once(demo, receiver):
    client, _secret, webhook_secret = partner([_dispatched_town()], scopes=["orders:read"], webhook_url=receiver.url)
    order = _order_in(client.town_ids[0], OrderState.dispatched)
    orders.transition(order, OrderState.cancelled, user("city"), reason="test")
    db.session.commit()
    notifications.deliver_pending(utcnow())  # the outbox's per-minute job sends webhooks too
    assert len(receiver.got) == 1
    headers, body = receiver.got[0]
    assert _verify(webhook_secret, headers, body)
    assert not _verify(webhook_secret + "x", headers, body)  # the check can fail
    event = json.loads(body)
    assert event["event"] == "order.cancelled" == headers["socialforce-event"]
    assert event["order_id"] == order.id and event["state"] == "cancelled" and event["visit_id"] is None
    assert event["occurred_at"].endswith("+08:00") and headers["socialforce-delivery"] == event["id"]
    _deliver(minutes=10)
    assert len(receiver.got) == 1  # sent is sent


def test_partners_hear_only_their_towns_and_scopes(demo, receiver):
    mine, _s, _w = partner([_dispatched_town()], scopes=["orders:read"], webhook_url=receiver.url)
    other_town = db.session.scalar(sa.select(Household.town_id).where(Household.town_id != mine.town_ids[0]))
    partner(town_ids=[other_town], scopes=["orders:read"], webhook_url=receiver.url)
    partner(mine.town_ids, scopes=["visits:read"], webhook_url=receiver.url)  # visits only: no order events
    order = _order_in(mine.town_ids[0], OrderState.dispatched)
    orders.transition(order, OrderState.cancelled, user("city"), reason="test")
    db.session.commit()
    messages = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.channel == "webhook")).all()
    assert [m.api_client_id for m in messages] == [mine.id]


def test_a_visit_check_in_is_a_visit_event(demo, receiver):
    client, _secret, webhook_secret = partner(scopes=["visits:read"], webhook_url=receiver.url)
    visit = db.session.scalar(sa.select(Visit).join(Order).join(ServiceItem).join(Household).where(
        Household.town_id == client.town_ids[0], Visit.status == VisitStatus.planned).order_by(Visit.id))
    if visit is None:
        pytest.skip("the demo has no planned visit in this town")
    check_in(visit, user("city"), visit.starts_at)
    db.session.commit()
    _deliver()
    events = [json.loads(body) for _h, body in receiver.got]
    assert [(e["event"], e["visit_id"], e["order_id"]) for e in events] == [
        ("visit.checked_in", visit.id, visit.order_id)]


def test_a_failing_endpoint_is_retried_then_listed_for_city_staff_who_retry_it(demo, app, receiver, monkeypatch):
    monkeypatch.setitem(app.config, "NOTIFY_MAX_ATTEMPTS", 2)
    client, _secret, _w = partner([_dispatched_town()], scopes=["orders:read"], webhook_url=receiver.url)
    receiver.status = 503
    order = _order_in(client.town_ids[0], OrderState.dispatched)
    orders.transition(order, OrderState.cancelled, user("city"), reason="test")
    db.session.commit()
    assert _deliver()["retry"] == 1
    assert sum(_deliver(minutes=0).values()) == 0  # it waits for its backoff
    assert len(receiver.got) == 1
    assert _deliver(minutes=2)["failed"] == 1  # the second and last attempt
    message = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.channel == "webhook"))
    assert message.status == OutboxStatus.failed and "503" in message.last_error
    browser = client_for(app, "city")
    page = browser.get("/inbox/failed").get_data(as_text=True)
    assert "order.cancelled" in page and client.name in page
    receiver.status = 204
    notifications.retry_failed(message.id, user("city"))
    db.session.commit()
    assert _deliver(minutes=61)["sent"] == 1
    assert len(receiver.got) == 3  # the same delivery id every time
    assert len({h["socialforce-delivery"] for h, _b in receiver.got}) == 1


def test_a_gone_endpoint_fails_at_once_and_a_revoked_partner_gets_nothing(demo, receiver):
    client, _secret, _w = partner([_dispatched_town()], scopes=["orders:read"], webhook_url=receiver.url)
    receiver.status = 410
    first, second = db.session.scalars(sa.select(Order).join(ServiceItem).join(Household).where(
        Household.town_id == client.town_ids[0], Order.state == OrderState.dispatched).order_by(Order.id).limit(2))
    orders.transition(first, OrderState.cancelled, user("city"), reason="test")
    db.session.commit()
    assert _deliver()["failed"] == 1
    orders.transition(second, OrderState.cancelled, user("city"), reason="test")
    db.session.commit()
    from socialforce.platform.services import partners

    partners.revoke(user("city"), client.id)
    db.session.commit()
    assert _deliver()["dropped"] == 1
    assert len(receiver.got) == 1


def test_the_signature_is_hmac_sha256_over_timestamp_and_body():
    body = b'{"event":"order.accepted"}'
    expected = hmac.new(b"whsec_k", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert webhooks.sign("whsec_k", 1700000000, body) == f"t=1700000000,v1={expected}"
