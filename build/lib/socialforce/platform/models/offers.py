"""Service offers: the capacity a provider publishes (categories, towns, weekly slots, time windows)."""
from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from socialforce.platform.extensions import db
from socialforce.platform.models.base import created_at_column, enum_column

offer_categories = sa.Table(
    "offer_categories",
    db.metadata,
    sa.Column("offer_id", sa.ForeignKey("service_offers.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("category_id", sa.ForeignKey("service_categories.id"), primary_key=True, index=True),
)
offer_towns = sa.Table(
    "offer_towns",
    db.metadata,
    sa.Column("offer_id", sa.ForeignKey("service_offers.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("town_id", sa.ForeignKey("towns.id"), primary_key=True, index=True),
)


class OfferStatus(enum.StrEnum):
    active = "active"
    paused = "paused"


class ServiceOffer(db.Model):
    """Published capacity: `slots_per_week` items served at once, inside the WeekMask `windows`."""

    __tablename__ = "service_offers"
    __table_args__ = (
        sa.CheckConstraint("slots_per_week BETWEEN 0 AND 1000", name="slots_per_week"),
        sa.CheckConstraint("windows >= 0 AND windows < 2097152", name="windows_mask"),
        sa.CheckConstraint("valid_to >= valid_from", name="validity"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("providers.id"), index=True)
    title: Mapped[str] = mapped_column(sa.String(100))
    description: Mapped[str] = mapped_column(sa.String(500))
    slots_per_week: Mapped[int]
    windows: Mapped[int]
    valid_from: Mapped[date]
    valid_to: Mapped[date]
    status: Mapped[OfferStatus] = enum_column(OfferStatus, default=OfferStatus.active)
    created_at: Mapped[datetime] = created_at_column()
    provider = relationship("Provider")
    categories = relationship("ServiceCategory", secondary=offer_categories, order_by="ServiceCategory.id")
    towns = relationship("Town", secondary=offer_towns, order_by="Town.id")
