"""Trained ranking models (the learned ranker's versions)."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from socialforce.platform.extensions import db
from socialforce.platform.models.base import created_at_column


class RankerModel(db.Model):
    """A trained ranking model: its version, training date and evaluation figures (weights on disk)."""

    __tablename__ = "ranker_models"
    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(sa.String(40), unique=True)
    trained_at: Mapped[datetime] = created_at_column()
    trained_until: Mapped[date | None]
    n_outcomes: Mapped[int]
    path: Mapped[str] = mapped_column(sa.String(300))
    metrics: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    active: Mapped[bool] = mapped_column(default=False)
