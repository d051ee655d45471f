"""Users with their roles, and the login throttle that counts their password checks."""
from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from socialforce.platform.extensions import db
from socialforce.platform.models.base import created_at_column, enum_column


class Role(enum.StrEnum):
    city_staff = "city_staff"  # county staff (县级民政): every town of their county
    prefecture_staff = "prefecture_staff"  # 市级: every county's figures and lists, read-only and masked
    town_staff = "town_staff"
    agency_admin = "agency_admin"
    social_worker = "social_worker"
    unit_admin = "unit_admin"
    cadre = "cadre"
    volunteer = "volunteer"
    village_assistant = "village_assistant"  # 村居协理员: one village's households, drafts and follow-ups


class User(UserMixin, db.Model):
    """A login. Every login but prefecture staff carries its county; town staff a town; village assistants a
    village; provider roles their provider (and member, for workers)."""

    __tablename__ = "users"
    __table_args__ = (
        sa.CheckConstraint("role <> 'town_staff' OR town_id IS NOT NULL", name="town_staff_town"),
        sa.CheckConstraint(
            "role IN ('city_staff', 'prefecture_staff', 'town_staff', 'village_assistant') OR provider_id IS NOT NULL",
            name="provider_role_provider"
        ),
        sa.CheckConstraint("role <> 'village_assistant' OR village_id IS NOT NULL", name="village_assistant_village"),
        sa.CheckConstraint("(role = 'prefecture_staff') = (county_id IS NULL)", name="county_unless_prefecture"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(60), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(256))
    display_name: Mapped[str] = mapped_column(sa.String(60))
    role: Mapped[Role] = enum_column(Role)
    county_id: Mapped[int | None] = mapped_column(sa.ForeignKey("counties.id"), index=True)  # NULL: prefecture
    town_id: Mapped[int | None] = mapped_column(sa.ForeignKey("towns.id"))
    village_id: Mapped[int | None] = mapped_column(sa.ForeignKey("villages.id"), index=True)
    provider_id: Mapped[int | None] = mapped_column(sa.ForeignKey("providers.id"), index=True)
    member_id: Mapped[int | None] = mapped_column(sa.ForeignKey("provider_members.id"))
    active: Mapped[bool] = mapped_column(default=True)
    locale: Mapped[str | None] = mapped_column(sa.String(10))
    # Contact points of the account itself; a channel uses one only once it is verified.
    email: Mapped[str | None] = mapped_column(sa.String(254))
    email_verified_at: Mapped[datetime | None]
    phone_enc: Mapped[str | None] = mapped_column(sa.Text)
    phone_masked: Mapped[str | None] = mapped_column(sa.String(20))
    phone_hash: Mapped[str | None] = mapped_column(sa.String(64), index=True)  # keyed hash: "forgot password" lookup
    phone_verified_at: Mapped[datetime | None]
    must_change_password: Mapped[bool] = mapped_column(default=False)  # set by a reset; cleared by a new password
    session_version: Mapped[int] = mapped_column(default=1)  # bumped to end every session of the user
    created_at: Mapped[datetime] = created_at_column()
    town = relationship("Town")
    village = relationship("Village")
    provider = relationship("Provider")
    member = relationship("ProviderMember")

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    def get_id(self) -> str:
        """Flask-Login identity: id and session version, so bumping the version ends old sessions."""
        return f"{self.id}:{self.session_version}"


class LoginThrottle(db.Model):
    """Password checks reserved for one subject (an account at an address, or an address) in its current window."""

    __tablename__ = "login_throttles"
    scope: Mapped[str] = mapped_column(sa.String(10), primary_key=True)  # "account" (account at an address), "ip"
    subject: Mapped[str] = mapped_column(sa.String(64), primary_key=True)  # a keyed hash, never the text
    attempts: Mapped[int]
    window_start: Mapped[datetime]
