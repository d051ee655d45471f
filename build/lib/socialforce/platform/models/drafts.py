"""Needs a village assistant found on a round (走访发现需求), kept as drafts until town staff review them.

A draft lives in its own table, not as a service-item status, so no query over service items (matching,
dashboards, exports, counts) can see a need nobody has approved. Approving creates the normal open item.
"""
from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from socialforce.platform.extensions import db
from socialforce.platform.models.base import created_at_column, enum_column
from socialforce.platform.models.items import Priority


class DraftStatus(enum.StrEnum):
    pending = "pending"  # awaiting town staff
    approved = "approved"  # became service item `item_id`
    returned = "returned"  # sent back with `review_note`


class ItemDraft(db.Model):
    """A need recorded by a village assistant: what, for which household, how urgent; reviewed by town staff."""

    __tablename__ = "item_drafts"
    __table_args__ = (
        sa.CheckConstraint("status <> 'approved' OR item_id IS NOT NULL", name="approved_item"),
        sa.CheckConstraint("status <> 'returned' OR review_note IS NOT NULL", name="returned_note"),
        sa.Index("ix_item_drafts_status_household", "status", "household_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(sa.ForeignKey("households.id"), index=True)
    category_id: Mapped[int] = mapped_column(sa.ForeignKey("service_categories.id"))
    description: Mapped[str] = mapped_column(sa.String(500))
    priority: Mapped[Priority] = enum_column(Priority, default=Priority.normal)
    status: Mapped[DraftStatus] = enum_column(DraftStatus, default=DraftStatus.pending)
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = created_at_column()
    reviewed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None]
    review_note: Mapped[str | None] = mapped_column(sa.String(200))
    item_id: Mapped[int | None] = mapped_column(sa.ForeignKey("service_items.id"))
    household = relationship("Household")
    category = relationship("ServiceCategory")
    created_by = relationship("User", foreign_keys=[created_by_id])
