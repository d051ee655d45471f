"""The one-question satisfaction link sent by SMS to a household after a completed order."""
from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from socialforce.platform.extensions import db
from socialforce.platform.models.base import created_at_column, enum_column


class LinkDelivery(enum.StrEnum):
    pending = "pending"  # composed, waiting for the SMS sender
    sent = "sent"
    failed = "failed"  # gave up after retries (or the household has no mobile number any more)


class FeedbackLink(db.Model):
    """One satisfaction link per completed order: valid until `expires_at`, answered at most once (`used_at`).

    The URL carries a token signed with the app's secret key that names this row; the token itself is never stored:
    the SMS text is composed when it is sent. The row is also the household's outbox entry (delivery, attempts).
    """

    __tablename__ = "feedback_links"
    __table_args__ = (sa.Index("ix_feedback_links_delivery_next", "delivery", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id"), unique=True)
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    delivery: Mapped[LinkDelivery] = enum_column(LinkDelivery, default=LinkDelivery.pending)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = created_at_column()
    last_error: Mapped[str | None] = mapped_column(sa.String(300))
    order = relationship("Order")
