"""The append-only audit log."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from socialforce.platform.extensions import db
from socialforce.platform.models.base import created_at_column


class AuditLog(db.Model):
    """One audited action. The application only ever inserts here (never updates or deletes)."""

    __tablename__ = "audit_log"
    __table_args__ = (
        sa.Index("ix_audit_log_object", "object_type", "object_id"),
        sa.Index("ix_audit_log_action_at", "action", "at"),  # login throttling: recent failures
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = created_at_column()
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(sa.String(40), index=True)
    object_type: Mapped[str | None] = mapped_column(sa.String(40))
    object_id: Mapped[int | None]
    ip: Mapped[str | None] = mapped_column(sa.String(45))
    detail: Mapped[dict | None] = mapped_column(sa.JSON)  # never personal data
    user = relationship("User")
