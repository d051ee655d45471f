"""Counties (县/县级市: the tenants), their towns (镇街) and villages/communities (村居) with approximate centroids."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from socialforce.platform.extensions import db


class County(db.Model):
    """A county-level city or county (县级): the tenant. Its staff see only its towns' rows; prefecture staff all."""

    __tablename__ = "counties"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(20), unique=True)
    name_zh: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name_en: Mapped[str] = mapped_column(sa.String(60))
    towns: Mapped[list[Town]] = relationship(back_populates="county", order_by="Town.id")


class Town(db.Model):
    __tablename__ = "towns"
    id: Mapped[int] = mapped_column(primary_key=True)
    county_id: Mapped[int] = mapped_column(sa.ForeignKey("counties.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(20), unique=True)
    name_zh: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name_en: Mapped[str] = mapped_column(sa.String(60))
    kind: Mapped[str] = mapped_column(sa.String(10))  # "town" (镇) or "street" (街道)
    lat: Mapped[float]
    lon: Mapped[float]
    auto_dispatch: Mapped[bool] = mapped_column(default=False)
    auto_dispatch_threshold: Mapped[float] = mapped_column(default=0.8)
    villages: Mapped[list[Village]] = relationship(back_populates="town", order_by="Village.id")
    county: Mapped[County] = relationship(back_populates="towns")


class Village(db.Model):
    __tablename__ = "villages"
    __table_args__ = (sa.UniqueConstraint("town_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    town_id: Mapped[int] = mapped_column(sa.ForeignKey("towns.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(60))
    lat: Mapped[float]
    lon: Mapped[float]
    town: Mapped[Town] = relationship(back_populates="villages")
