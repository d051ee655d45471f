"""Social forces: agencies (社工服务机构), pairing units (结对帮扶单位) and volunteers (志愿者).

Every provider has one row in `providers` (kind, name, status, place); kind-specific details live in
`agencies`, `pairing_units` and `volunteers`, so offers and orders refer to any provider the same way.
"""
from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from socialforce.platform.extensions import db
from socialforce.platform.models.base import created_at_column, enum_column

provider_towns = sa.Table(
    "provider_towns",
    db.metadata,
    sa.Column("provider_id", sa.ForeignKey("providers.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("town_id", sa.ForeignKey("towns.id"), primary_key=True, index=True),
)
"""The towns an agency or pairing unit covers (set by city staff on its organisation page)."""

provider_counties = sa.Table(
    "provider_counties",
    db.metadata,
    sa.Column("provider_id", sa.ForeignKey("providers.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("county_id", sa.ForeignKey("counties.id"), primary_key=True, index=True),
)
"""Explicit grants: a provider serving counties other than its home county (`providers.county_id`)."""

contract_categories = sa.Table(
    "contract_categories",
    db.metadata,
    sa.Column("contract_id", sa.ForeignKey("contracts.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("category_id", sa.ForeignKey("service_categories.id"), primary_key=True, index=True),
)
"""The service categories a government-purchase contract buys (periods may not overlap for a shared category)."""


class ProviderKind(enum.StrEnum):
    agency = "agency"
    unit = "unit"
    volunteer = "volunteer"


class ProviderStatus(enum.StrEnum):
    pending = "pending"
    approved = "approved"
    suspended = "suspended"


class Provider(db.Model):
    __tablename__ = "providers"
    __table_args__ = (sa.Index("ix_providers_kind_status", "kind", "status"),
                      sa.Index("ix_providers_status_county_id", "status", "county_id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[ProviderKind] = enum_column(ProviderKind)
    name: Mapped[str] = mapped_column(sa.String(100), index=True)
    status: Mapped[ProviderStatus] = enum_column(ProviderStatus, default=ProviderStatus.pending)
    town_id: Mapped[int] = mapped_column(sa.ForeignKey("towns.id"), index=True)
    county_id: Mapped[int] = mapped_column(sa.ForeignKey("counties.id"), index=True)  # home county: its town's
    lat: Mapped[float]
    lon: Mapped[float]
    radius_km: Mapped[float] = mapped_column(default=0.0)  # travel radius beyond the offer's towns
    created_at: Mapped[datetime] = created_at_column()
    town = relationship("Town")
    qualifications: Mapped[list[Qualification]] = relationship(back_populates="provider")
    agency: Mapped[Agency | None] = relationship(back_populates="provider", uselist=False)
    unit: Mapped[PairingUnit | None] = relationship(back_populates="provider", uselist=False)
    volunteer: Mapped[Volunteer | None] = relationship(back_populates="provider", uselist=False)
    towns_covered = relationship("Town", secondary=provider_towns, order_by="Town.id")


class Qualification(db.Model):
    """A qualification or certification a provider holds (e.g. licensed_social_worker, background_check)."""

    __tablename__ = "qualifications"
    __table_args__ = (sa.UniqueConstraint("provider_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("providers.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(40))
    document_no: Mapped[str | None] = mapped_column(sa.String(60))
    issued_on: Mapped[date | None]
    expires_on: Mapped[date | None]
    verified_at: Mapped[datetime | None]  # staff saw the document; NULL: declared by a volunteer, not yet checked
    verified_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    provider: Mapped[Provider] = relationship(back_populates="qualifications")

    @classmethod
    def in_force(cls, on: date) -> sa.ColumnElement[bool]:
        """SQL condition: verified by staff and not expired on `on` (only such qualifications count)."""
        return sa.and_(cls.verified_at.is_not(None), sa.or_(cls.expires_on.is_(None), cls.expires_on >= on))


class Agency(db.Model):
    """A social-work agency: its registration (unified social credit code, licence) and contact person."""

    __tablename__ = "agencies"
    __table_args__ = (sa.Index("uq_agencies_credit_code", "credit_code", unique=True),)
    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("providers.id"), unique=True)
    licence_no: Mapped[str] = mapped_column(sa.String(40), unique=True)
    contact_name: Mapped[str] = mapped_column(sa.String(40))
    credit_code: Mapped[str | None] = mapped_column(sa.String(18))  # GB 32100-2015, checked by platform/uscc.py
    contact_phone_enc: Mapped[str | None] = mapped_column(sa.Text)
    contact_phone_masked: Mapped[str | None] = mapped_column(sa.String(20))
    provider: Mapped[Provider] = relationship(back_populates="agency")
    contracts: Mapped[list[Contract]] = relationship(back_populates="agency")


class Contract(db.Model):
    """A government-purchase-of-services contract (政府购买服务项目): budget and purchased hours."""

    __tablename__ = "contracts"
    __table_args__ = (
        sa.CheckConstraint("purchased_hours >= 0", name="purchased_hours"),
        sa.CheckConstraint("used_hours >= 0 AND used_hours <= purchased_hours", name="used_hours"),
        sa.CheckConstraint("ends_on >= starts_on", name="period"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(sa.ForeignKey("agencies.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    budget_cents: Mapped[int]
    purchased_hours: Mapped[float]
    used_hours: Mapped[float] = mapped_column(default=0.0)
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    agency: Mapped[Agency] = relationship(back_populates="contracts")
    categories = relationship("ServiceCategory", secondary=contract_categories, order_by="ServiceCategory.id")


class PairingUnit(db.Model):
    __tablename__ = "pairing_units"
    __table_args__ = (sa.Index("uq_pairing_units_credit_code", "credit_code", unique=True),)
    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("providers.id"), unique=True)
    unit_type: Mapped[str] = mapped_column(sa.String(20))  # department, enterprise, institution, group, party
    monthly_visit_quota: Mapped[int] = mapped_column(default=1)  # the default of its pairings
    department: Mapped[str | None] = mapped_column(sa.String(100))  # the department or superior body (主管部门)
    credit_code: Mapped[str | None] = mapped_column(sa.String(18))  # GB 32100-2015; the key of the import
    provider: Mapped[Provider] = relationship(back_populates="unit")


class MemberRole(enum.StrEnum):
    social_worker = "social_worker"
    cadre = "cadre"


class ProviderMember(db.Model):
    """A person working for an agency (social worker, 社工) or a pairing unit (cadre, 帮扶干部)."""

    __tablename__ = "provider_members"
    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("providers.id"), index=True)
    role: Mapped[MemberRole] = enum_column(MemberRole)
    name: Mapped[str] = mapped_column(sa.String(40))
    certificate_level: Mapped[str | None] = mapped_column(sa.String(20))  # assistant, social_worker, senior
    phone_enc: Mapped[str | None] = mapped_column(sa.Text)
    phone_masked: Mapped[str | None] = mapped_column(sa.String(20))
    active: Mapped[bool] = mapped_column(default=True)
    provider: Mapped[Provider] = relationship()


class Pairing(db.Model):
    """A pairing (结对关系) between a pairing unit and a household, optionally with a named cadre.

    Ending a pairing sets `ended_on` (never deletes); a unit may pair the same household again later, but holds at
    most one pairing with it that has not ended (a partial unique index). `monthly_visit_quota` NULL: the unit's.
    """

    __tablename__ = "pairings"
    __table_args__ = (
        sa.Index("uq_pairings_active", "provider_id", "household_id", unique=True,
                 sqlite_where=sa.text("ended_on IS NULL"), postgresql_where=sa.text("ended_on IS NULL")),
        sa.CheckConstraint("monthly_visit_quota IS NULL OR monthly_visit_quota BETWEEN 0 AND 31",
                           name="monthly_visit_quota"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("providers.id"), index=True)
    household_id: Mapped[int] = mapped_column(sa.ForeignKey("households.id"), index=True)
    cadre_id: Mapped[int | None] = mapped_column(sa.ForeignKey("provider_members.id"))
    since: Mapped[date]
    ended_on: Mapped[date | None]
    monthly_visit_quota: Mapped[int | None]
    household = relationship("Household")
    cadre = relationship("ProviderMember")

    @classmethod
    def quota(cls) -> sa.ColumnElement[int]:
        """SQL: the pairing's monthly visit quota, its own or else its unit's (join PairingUnit on provider_id)."""
        return sa.func.coalesce(cls.monthly_visit_quota, PairingUnit.monthly_visit_quota)


class Volunteer(db.Model):
    """A real-name volunteer; `availability` is a WeekMask of the weekly slots they can serve.

    Volunteers imported from the national volunteer service information system carry its volunteer number, their
    registration date and the hours recorded there (`imported_hours`), kept apart from the hours served here.
    """

    __tablename__ = "volunteers"
    __table_args__ = (sa.Index("uq_volunteers_national_no", "national_no", unique=True),)
    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("providers.id"), unique=True)
    real_name: Mapped[str] = mapped_column(sa.String(40))
    id_number_enc: Mapped[str] = mapped_column(sa.Text)
    id_number_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    id_masked: Mapped[str] = mapped_column(sa.String(18))
    id_verified: Mapped[bool] = mapped_column(default=False)
    phone_enc: Mapped[str] = mapped_column(sa.Text)
    phone_masked: Mapped[str] = mapped_column(sa.String(20))
    skills: Mapped[str] = mapped_column(sa.String(300), default="")  # space-separated service-category codes
    availability: Mapped[int] = mapped_column(default=0)
    rejection_reason: Mapped[str | None] = mapped_column(sa.String(200))  # why staff turned the registration down
    id_type: Mapped[str | None] = mapped_column(sa.String(20))  # NULL: resident ID; else e.g. passport
    national_no: Mapped[str | None] = mapped_column(sa.String(40))  # 志愿者编号 in the national system
    registered_on: Mapped[date | None]  # registration date in the national system
    imported_hours: Mapped[float] = mapped_column(default=0.0)  # 累计服务时长 there, not served on the platform
    organisation: Mapped[str | None] = mapped_column(sa.String(100))
    provider: Mapped[Provider] = relationship(back_populates="volunteer")


class HouseholdBlock(db.Model):
    """A household's request not to be served by a provider (a hard exclusion in matching)."""

    __tablename__ = "household_blocks"
    __table_args__ = (sa.UniqueConstraint("household_id", "provider_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(sa.ForeignKey("households.id"), index=True)
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("providers.id"))
    reason: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = created_at_column()
