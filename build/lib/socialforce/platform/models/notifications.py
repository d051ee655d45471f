"""In-app notifications and the outbox of messages for external channels."""
from __future__ import annotations

import enum
import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from socialforce.platform.extensions import db
from socialforce.platform.models.base import created_at_column, enum_column


class Notification(db.Model):
    """An in-app inbox message for one user; `read_at` NULL means unread."""

    __tablename__ = "notifications"
    __table_args__ = (sa.Index("ix_notifications_user_read", "user_id", "read_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(sa.String(40))
    params: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    link: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = created_at_column()
    read_at: Mapped[datetime | None]


class OutboxStatus(enum.StrEnum):
    pending = "pending"
    sent = "sent"
    failed = "failed"  # gave up after retries or a permanent error: listed for city staff, who can retry it
    dropped = "dropped"  # never to be sent (no verified address, recipient deactivated); `last_error` says why


class OutboxMessage(db.Model):
    """A message waiting for an external channel (log, e-mail, SMS); retried until sent."""

    __tablename__ = "outbox"
    __table_args__ = (sa.Index("ix_outbox_status_next", "status", "next_attempt_at"),
                      sa.UniqueConstraint("idempotency_key", name="uq_outbox_idempotency_key"))
    id: Mapped[int] = mapped_column(primary_key=True)
    # A notice for a user; NULL for a partner's webhook (channel "webhook": `api_client_id` and `payload` instead).
    notification_id: Mapped[int | None] = mapped_column(sa.ForeignKey("notifications.id"))
    api_client_id: Mapped[int | None] = mapped_column(sa.ForeignKey("api_clients.id"))
    payload: Mapped[dict | None] = mapped_column(sa.JSON)  # the webhook event: ids, states and times only
    channel: Mapped[str] = mapped_column(sa.String(20))
    status: Mapped[OutboxStatus] = enum_column(OutboxStatus, default=OutboxStatus.pending)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = created_at_column()
    last_error: Mapped[str | None] = mapped_column(sa.String(300))
    # Sent with the message (the e-mail's Message-ID, the SMS gateway's out_id), the same on every retry, so the
    # receiving end can drop a copy sent again after a crash.
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(64), default=lambda: uuid.uuid4().hex)
    sent_at: Mapped[datetime | None]
    digest_key: Mapped[str | None] = mapped_column(sa.String(64))  # set when it went out inside a digest


class NotificationSettings(db.Model):
    """A user's choices: which kinds of notice also go by e-mail or SMS (in-app always), and quiet hours.

    Quiet hours are local (Asia/Shanghai) minutes after midnight; start > end spans midnight; NULL: none.
    """

    __tablename__ = "notification_settings"
    __table_args__ = (
        sa.CheckConstraint("quiet_start BETWEEN 0 AND 1439 AND quiet_end BETWEEN 0 AND 1439 "
                           "AND quiet_start <> quiet_end", name="quiet_window"),
        sa.CheckConstraint("(quiet_start IS NULL) = (quiet_end IS NULL)", name="quiet_both"),
    )
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), primary_key=True)
    email_kinds: Mapped[list] = mapped_column(sa.JSON, default=list)
    sms_kinds: Mapped[list] = mapped_column(sa.JSON, default=list)
    quiet_start: Mapped[int | None]
    quiet_end: Mapped[int | None]
    updated_at: Mapped[datetime] = created_at_column()
