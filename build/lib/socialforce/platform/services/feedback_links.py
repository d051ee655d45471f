"""The household answers for itself: a one-question satisfaction link sent by SMS after a completed order.

When the provider completes an order of a household with a mobile number on file, a FeedbackLink is created (one per
order) and put in the household's outbox: `deliver_pending` (the per-minute job) composes the text when it sends it,
through the SMS gateway (the same `SmsSender` the notices use, addressed to the household's phone), retried with the
notices' backoff. The link's token is the row id signed with the app's secret key (itsdangerous), so it cannot be
guessed or altered and is never stored; the row says until when it is valid and whether it was used. The page asks
one question and shows no personal data (the service's category and month only); works without an account.

The answer is recorded as the household's HouseholdFeedback (channel household_sms), the same row a follow-up call
writes, so it counts for track records and the learned ranker's label. Single use: a conditional UPDATE sets
`used_at` only while it is NULL and the link is valid, and the feedback's unique order key refuses a second answer
(a staff follow-up recorded first wins, and the link then says the household was already asked).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeSerializer

from socialforce.platform import crypto, links
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    FeedbackChannel,
    FeedbackLink,
    HouseholdFeedback,
    LinkDelivery,
    Order,
    ServiceCategory,
)
from socialforce.platform.models.orders import DONE_STATES
from socialforce.platform.services import ServiceError, audit, notifications

log = logging.getLogger("socialforce.feedback_links")
SALT = "household-feedback-link"
BATCH = 200


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def token_for(link: FeedbackLink) -> str:
    """The link's token: its id signed with the secret key."""
    return _serializer().dumps(link.id)


def url_for_link(link: FeedbackLink) -> str:
    """The absolute URL the household opens (PUBLIC_BASE_URL + the public page's path)."""
    return links.absolute(f"/f/{token_for(link)}")


def create_for(order: Order, now: datetime) -> FeedbackLink | None:
    """Put a satisfaction link for a just-completed order in the household's outbox (None when the household has no
    mobile number on file, or the order has a link already). Flushes."""
    if order.item.household.phone_enc is None:
        return None
    if db.session.scalar(sa.select(FeedbackLink.id).where(FeedbackLink.order_id == order.id)):
        return None
    days = current_app.config["FEEDBACK_LINK_DAYS"]
    link = FeedbackLink(order_id=order.id, created_at=now, expires_at=now + timedelta(days=days), next_attempt_at=now)
    db.session.add(link)
    db.session.flush()
    return link


@dataclass(frozen=True)
class LinkView:
    """What the public page may show: whether the link can be answered, and the service's category and month."""

    link_id: int | None
    state: str  # "open", "invalid", "expired", "answered"
    category: ServiceCategory | None = None
    completed_at: datetime | None = None


def lookup(token: str, now: datetime) -> LinkView:
    """Read a token: unknown or altered tokens are "invalid"; past links "expired"; used ones "answered"."""
    try:
        link_id = _serializer().loads(token)
    except BadSignature:
        return LinkView(None, "invalid")
    if not isinstance(link_id, int):
        return LinkView(None, "invalid")
    link = db.session.get(FeedbackLink, link_id)
    if link is None:
        return LinkView(None, "invalid")
    order = link.order
    category = order.item.category
    if link.used_at is not None or db.session.scalar(
            sa.select(HouseholdFeedback.id).where(HouseholdFeedback.order_id == order.id)):
        return LinkView(link.id, "answered", category, order.completed_at)
    if link.expires_at <= now or order.state not in DONE_STATES:
        return LinkView(link.id, "expired", category, order.completed_at)
    return LinkView(link.id, "open", category, order.completed_at)


def answer(token: str, satisfaction: int | None, now: datetime) -> HouseholdFeedback:
    """Record the household's own satisfaction (1-5) through its link, once; audited. Flushes."""
    if satisfaction is None or not 1 <= satisfaction <= 5:
        raise ServiceError(_("Choose how satisfied you are, from 1 to 5."), status=400, field="satisfaction")
    view = lookup(token, now)
    if view.state != "open":
        raise ServiceError(_("This link can no longer be answered."), status=409)
    used = db.session.execute(
        sa.update(FeedbackLink).where(FeedbackLink.id == view.link_id, FeedbackLink.used_at.is_(None),
                                      FeedbackLink.expires_at > now)
        .values(used_at=now).execution_options(synchronize_session=False))
    if used.rowcount != 1:
        raise ServiceError(_("This link can no longer be answered."), status=409)
    link = db.session.get(FeedbackLink, view.link_id)
    feedback = HouseholdFeedback(order_id=link.order_id, satisfaction=satisfaction,
                                 channel=FeedbackChannel.household_sms, recorded_by_id=None, recorded_at=now)
    db.session.add(feedback)
    try:
        db.session.flush()
    except sa.exc.IntegrityError:  # staff recorded a follow-up a moment ago
        raise ServiceError(_("This link can no longer be answered."), status=409) from None
    audit.record("household_feedback", None, "order", link.order_id, satisfaction=satisfaction,
                 channel=FeedbackChannel.household_sms.value)
    return feedback


# --- the household's outbox -----------------------------------------------------------------------------------


def compose(link: FeedbackLink) -> str:
    """The SMS text (Chinese; no names, no address): the category and the link."""
    category = link.order.item.category
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        return _("Your %(category)s service is complete. How satisfied are you? Answer with one tap: %(url)s",
                 category=category.name_zh, url=url_for_link(link))


class _HouseholdPhone:
    """Addresses an SMS to the household of a link (the SmsSender asks for a recipient's phone)."""

    def __init__(self, link: FeedbackLink):
        self.phone_enc = link.order.item.household.phone_enc

    def __call__(self, _recipient) -> str | None:
        return crypto.decrypt(self.phone_enc) if self.phone_enc else None


def _sender(link: FeedbackLink):
    """The SMS sender for this link's household, or None when no gateway is configured (development: log only)."""
    return notifications.sms_sender(current_app.config, phone_of=_HouseholdPhone(link))


def deliver_pending(now: datetime) -> dict:
    """Send every due link SMS (the per-minute job): claimed (committed) before sending, retried with backoff."""
    due = db.session.scalars(
        sa.select(FeedbackLink.id).where(FeedbackLink.delivery == LinkDelivery.pending,
                                         FeedbackLink.next_attempt_at <= now)
        .order_by(FeedbackLink.next_attempt_at, FeedbackLink.id).limit(BATCH)).all()
    db.session.commit()
    counts = {"sent": 0, "retry": 0, "failed": 0, "skipped": 0}
    for link_id in due:
        counts[_deliver_one(link_id, now)] += 1
    return counts


def _deliver_one(link_id: int, now: datetime) -> str:
    link = db.session.get(FeedbackLink, link_id, populate_existing=True)
    if link is None or link.delivery != LinkDelivery.pending or link.next_attempt_at > now:
        db.session.commit()
        return "skipped"
    attempts = link.attempts + 1
    claimed = db.session.execute(
        sa.update(FeedbackLink).where(FeedbackLink.id == link_id, FeedbackLink.delivery == LinkDelivery.pending,
                                      FeedbackLink.attempts == link.attempts)
        .values(attempts=attempts, next_attempt_at=now + notifications.backoff(attempts))
        .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    if claimed != 1:
        return "skipped"
    link = db.session.get(FeedbackLink, link_id, populate_existing=True)
    try:
        sender = _sender(link)
        if sender is None:
            log.info("feedback link %s for order %s composed; no SMS gateway configured", link.id, link.order_id)
        else:
            sender.send(None, _("Socialforce notification"), compose(link))
    except Exception as error:  # noqa: BLE001 - any gateway failure is recorded and retried
        permanent = isinstance(error, notifications.PermanentDeliveryError)
        link.last_error = f"{type(error).__name__}: {error}"[:300]
        failed = permanent or attempts >= current_app.config["NOTIFY_MAX_ATTEMPTS"]
        if failed:
            link.delivery = LinkDelivery.failed
        db.session.commit()
        log.warning("feedback link %s attempt %s failed: %s", link_id, attempts, type(error).__name__)
        return "failed" if failed else "retry"
    link.delivery = LinkDelivery.sent
    db.session.commit()
    return "sent"
