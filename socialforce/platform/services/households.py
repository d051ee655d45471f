"""Household queries for staff, and the one audited way to reveal a resident ID number."""
from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _

from socialforce.platform import crypto
from socialforce.platform.models import AssistanceCategory, Enrollment, Household, Member, User
from socialforce.platform.scoping import household_filter
from socialforce.platform.services import ServiceError, audit


def search(
    user: User,
    name: str | None = None,
    id_suffix: str | None = None,
    town_id: int | None = None,
    category_code: str | None = None,
) -> sa.Select:
    """Households in the user's scope matching head/member name, ID suffix, town and assistance category."""
    query = sa.select(Household).where(household_filter(user))
    if town_id:
        query = query.where(Household.town_id == town_id)
    member_match = []
    if name:
        pattern = f"%{name.strip()}%"
        query = query.where(
            Household.head_name.like(pattern)
            | Household.id.in_(sa.select(Member.household_id).where(Member.name.like(pattern)))
        )
    if id_suffix:
        member_match.append(Member.id_suffix == id_suffix.strip().upper())
    if category_code:
        member_match.append(Member.id.in_(
            sa.select(Enrollment.member_id).join(AssistanceCategory)
            .where(AssistanceCategory.code == category_code)
        ))
    if member_match:
        query = query.where(Household.id.in_(sa.select(Member.household_id).where(*member_match)))
    return query.order_by(Household.id)


def reveal_id_number(member: Member, user: User, purpose: str, ip: str | None) -> str:
    """Decrypt one member's resident ID for city or town staff, writing one audit record."""
    purpose = (purpose or "").strip()
    if len(purpose) < 2:
        raise ServiceError(_("State the purpose of viewing the full ID number."), status=400, field="purpose")
    audit.record("reveal_id_number", user, "member", member.id, ip=ip,
                 household_id=member.household_id, purpose=purpose[:200])
    return crypto.decrypt(member.id_number_enc)
