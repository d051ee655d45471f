"""The audit trail: one append-only row per audited action (no personal data in `detail`)."""
from __future__ import annotations

from socialforce.platform.extensions import db
from socialforce.platform.models import AuditLog, User


def record(
    action: str,
    user: User | None,
    object_type: str | None = None,
    object_id: int | None = None,
    ip: str | None = None,
    **detail,
) -> AuditLog:
    """Append one audit record and flush it."""
    entry = AuditLog(
        action=action,
        user_id=user.id if user is not None and user.is_authenticated else None,
        object_type=object_type,
        object_id=object_id,
        ip=ip,
        detail=detail or None,
    )
    db.session.add(entry)
    db.session.flush()
    return entry
