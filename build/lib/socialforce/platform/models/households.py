"""Needy households (困难家庭), their members, assistance categories and monthly material assistance."""
from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from socialforce.platform.extensions import db
from socialforce.platform.models.base import (
    created_at_column,
    enum_column,
    updated_at_column,
    updated_at_index,
)


class Sex(enum.StrEnum):
    male = "M"
    female = "F"


class AssistanceCategory(db.Model):
    """A kind of assistance (低保, 特困, ...); `vulnerable` marks those that raise an item's priority."""

    __tablename__ = "assistance_categories"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(30), unique=True)
    name_zh: Mapped[str] = mapped_column(sa.String(40))
    name_en: Mapped[str] = mapped_column(sa.String(80))
    vulnerable: Mapped[bool] = mapped_column(default=False)


class Household(db.Model):
    __tablename__ = "households"
    __table_args__ = (updated_at_index("households"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(30), unique=True)  # the bureau's household number
    town_id: Mapped[int] = mapped_column(sa.ForeignKey("towns.id"), index=True)
    village_id: Mapped[int] = mapped_column(sa.ForeignKey("villages.id"), index=True)
    head_name: Mapped[str] = mapped_column(sa.String(40), index=True)
    address: Mapped[str] = mapped_column(sa.String(200))  # exact address: never shown to volunteers
    phone_enc: Mapped[str | None] = mapped_column(sa.Text)
    phone_masked: Mapped[str | None] = mapped_column(sa.String(20))
    lives_alone_elderly: Mapped[bool] = mapped_column(default=False)
    left_on: Mapped[date | None]  # the day it left assistance (a dated change in household_changes); NULL: assisted
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()
    town = relationship("Town")
    village = relationship("Village")
    members: Mapped[list[Member]] = relationship(back_populates="household", order_by="Member.id")


class Member(db.Model):
    """A household member; the resident ID is stored encrypted, with a keyed hash and a masked copy."""

    __tablename__ = "members"
    __table_args__ = (sa.CheckConstraint("disability_grade BETWEEN 0 AND 4", name="disability_grade"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(sa.ForeignKey("households.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(40), index=True)
    id_number_enc: Mapped[str] = mapped_column(sa.Text)
    id_number_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    id_masked: Mapped[str] = mapped_column(sa.String(18))
    id_suffix: Mapped[str] = mapped_column(sa.String(4), index=True)
    relation: Mapped[str] = mapped_column(sa.String(20))  # 户主, 配偶, 子女, 父母, ...
    birth_date: Mapped[date]
    sex: Mapped[Sex] = enum_column(Sex)
    disability_grade: Mapped[int] = mapped_column(default=0)  # 0 none, 1 most severe .. 4 mildest
    health_notes: Mapped[str | None] = mapped_column(sa.String(200))
    household: Mapped[Household] = relationship(back_populates="members")
    enrollments: Mapped[list[Enrollment]] = relationship(back_populates="member")


class Enrollment(db.Model):
    """A member's enrollment in an assistance category (household categories are their members')."""

    __tablename__ = "enrollments"
    __table_args__ = (sa.UniqueConstraint("member_id", "category_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(sa.ForeignKey("members.id"), index=True)
    category_id: Mapped[int] = mapped_column(sa.ForeignKey("assistance_categories.id"), index=True)
    since: Mapped[date]
    member: Mapped[Member] = relationship(back_populates="enrollments")
    category: Mapped[AssistanceCategory] = relationship()


class MaterialAssistance(db.Model):
    """One month's material (cash or in-kind) assistance paid to a household under one category."""

    __tablename__ = "material_assistance"
    __table_args__ = (
        sa.UniqueConstraint("household_id", "month", "category_id"),
        sa.CheckConstraint("amount_cents >= 0", name="amount_nonnegative"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(sa.ForeignKey("households.id"), index=True)
    category_id: Mapped[int] = mapped_column(sa.ForeignKey("assistance_categories.id"))
    month: Mapped[date] = mapped_column(index=True)  # first day of the month
    amount_cents: Mapped[int]
    in_kind: Mapped[str | None] = mapped_column(sa.String(100))


class HouseholdChange(db.Model):
    """A dated correction of a household or member (moved town, changed category, left assistance), old and new.

    Corrections are never silent overwrites: the current state changes and this row keeps what it was before, when
    the change took effect and who recorded it. `member_key` is the member's id, 0 for the whole household (one
    change of a kind per subject and day, so re-importing a correction adds nothing).
    """

    __tablename__ = "household_changes"
    __table_args__ = (sa.UniqueConstraint("household_id", "member_key", "kind", "effective_on"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(sa.ForeignKey("households.id"), index=True)
    member_id: Mapped[int | None] = mapped_column(sa.ForeignKey("members.id"))
    member_key: Mapped[int] = mapped_column(default=0)
    kind: Mapped[str] = mapped_column(sa.String(20))  # move, category, leave
    effective_on: Mapped[date]
    old_value: Mapped[str] = mapped_column(sa.String(300), default="")
    new_value: Mapped[str] = mapped_column(sa.String(300), default="")
    reason: Mapped[str | None] = mapped_column(sa.String(200))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = created_at_column()
