"""The service-category taxonomy (服务类别) and households' service lists (服务清单事项)."""
from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from socialforce.platform.extensions import db
from socialforce.platform.models.base import (
    created_at_column,
    enum_column,
    updated_at_column,
    updated_at_index,
)


class ServiceCategory(db.Model):
    """A service category; `qualifications` lists codes of which a provider must hold one (empty: none)."""

    __tablename__ = "service_categories"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(30), unique=True)
    name_zh: Mapped[str] = mapped_column(sa.String(40))
    name_en: Mapped[str] = mapped_column(sa.String(80))
    qualifications: Mapped[str] = mapped_column(sa.String(200), default="")  # space-separated codes
    volunteer_task: Mapped[bool] = mapped_column(default=False)  # dispatched as a task with k volunteer slots

    @property
    def qualification_codes(self) -> frozenset[str]:
        """The qualification codes of which a provider must hold at least one."""
        return frozenset(self.qualifications.split())


class Priority(enum.StrEnum):
    normal = "normal"
    high = "high"
    urgent = "urgent"


class Frequency(enum.StrEnum):
    once = "once"
    weekly = "weekly"
    monthly = "monthly"


class ItemStatus(enum.StrEnum):
    open = "open"
    dispatched = "dispatched"
    in_service = "in_service"
    closed = "closed"


class ServiceItem(db.Model):
    """One line of a household's service list: what is needed, for whom, how often and when."""

    __tablename__ = "service_items"
    __table_args__ = (
        sa.CheckConstraint("windows > 0 AND windows < 2097152", name="windows_mask"),
        sa.CheckConstraint("slots_needed BETWEEN 1 AND 50", name="slots_needed"),
        sa.Index("ix_service_items_status_category", "status", "category_id"),
        # dashboard: covering indexes for the per-household probes and the per-category counts
        sa.Index("ix_service_items_household_status", "household_id", "status", "created_at", "closed_at",
                 "category_id"),
        sa.Index("ix_service_items_category_status", "category_id", "status", "created_at", "closed_at",
                 "household_id"),
        # dashboard: the items registered / closed on the days the pre-aggregates do not cover (today)
        sa.Index("ix_service_items_created_at", "created_at"),
        sa.Index("ix_service_items_closed_at", "closed_at"),
        # a county's newest items and its open items, without its households (like orders)
        sa.Index("ix_service_items_county_id_id", "county_id", "id"),
        sa.Index("ix_service_items_county_id_status", "county_id", "status"),
        updated_at_index("service_items"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(sa.ForeignKey("households.id"), index=True)
    county_id: Mapped[int] = mapped_column(sa.ForeignKey("counties.id"))  # its household's (models/tenancy.py)
    member_id: Mapped[int | None] = mapped_column(sa.ForeignKey("members.id"), index=True)
    category_id: Mapped[int] = mapped_column(sa.ForeignKey("service_categories.id"), index=True)
    description: Mapped[str] = mapped_column(sa.String(500))
    priority: Mapped[Priority] = enum_column(Priority, default=Priority.normal)
    frequency: Mapped[Frequency] = enum_column(Frequency, default=Frequency.once)
    windows: Mapped[int]  # preferred weekly time windows, a WeekMask bit set
    slots_needed: Mapped[int] = mapped_column(default=1)  # volunteers needed for a task
    status: Mapped[ItemStatus] = enum_column(ItemStatus, default=ItemStatus.open, index=True)
    created_at: Mapped[datetime] = created_at_column()
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    closed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = updated_at_column()
    household = relationship("Household")
    member = relationship("Member")
    category: Mapped[ServiceCategory] = relationship()
