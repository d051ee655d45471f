"""Shared column helpers: UTC timestamps and string-backed enums with CHECK constraints."""
from __future__ import annotations

import enum
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import mapped_column


def utcnow() -> datetime:
    """The current time as a naive UTC datetime (every timestamp is stored this way)."""
    return datetime.now(UTC).replace(tzinfo=None)


def enum_column(enum_cls: type[enum.Enum], **kwargs):
    """A VARCHAR column holding an enum's values, guarded by a CHECK constraint on every database."""
    return mapped_column(
        sa.Enum(
            enum_cls,
            native_enum=False,
            create_constraint=True,
            validate_strings=True,
            length=max(len(m.value) for m in enum_cls),
            values_callable=lambda e: [m.value for m in e],
            name=enum_cls.__name__.lower(),
        ),
        **kwargs,
    )


def created_at_column():
    """A non-null creation timestamp filled on insert."""
    return mapped_column(sa.DateTime, default=utcnow, nullable=False)


def updated_at_column():
    """A non-null last-change timestamp, set on insert and on every update (ORM and Core); index it with id."""
    return mapped_column(sa.DateTime, default=utcnow, onupdate=utcnow, nullable=False)


def updated_at_index(table: str) -> sa.Index:
    """The (updated_at, id) index a changes feed pages over."""
    return sa.Index(f"ix_{table}_updated_at_id", "updated_at", "id")
