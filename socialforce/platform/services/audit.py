"""The audit trail: one append-only row per audited action (no personal data in `detail`)."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from socialforce.platform import scoping
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    Agency,
    ApiClient,
    ApiToken,
    AuditLog,
    Contract,
    HoursCertificate,
    Household,
    ItemDraft,
    Member,
    Order,
    Pairing,
    Provider,
    ProviderMember,
    Qualification,
    Role,
    ServiceItem,
    ServiceOffer,
    ServiceRecord,
    User,
    Visit,
    VisitSeries,
    Volunteer,
    VolunteerTask,
)

UNSCOPED_OBJECTS = ("ranker_model",)
"""Object types that belong to no county: the system's rows about them are every county staff's to read."""


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
    if object_type in ("order", "visit"):
        from socialforce.platform.services import webhooks  # order and visit events reach partners' webhooks

        webhooks.on_audit(action, object_type, object_id)
    return entry


# ------------------------------------------------------------------ reading the trail (the staff audit-log viewer)
def _town_objects(user: User) -> dict[str, sa.Select]:
    """For each object type whose row lies in a town: the ids of that type in the staff user's towns."""
    items = sa.select(ServiceItem.id).join(Household).where(scoping.town_filter(user, Household.town_id))
    orders = sa.select(Order.id).where(Order.item_id.in_(items))
    visits = sa.select(Visit.id).where(Visit.order_id.in_(orders))
    providers = sa.select(Provider.id).where(scoping.provider_filter(user))
    volunteers = sa.select(Volunteer.id).where(Volunteer.provider_id.in_(providers))
    users = sa.select(User.id).where(scoping.user_filter(user))
    return {
        "household": sa.select(Household.id).where(scoping.town_filter(user, Household.town_id)),
        "member": sa.select(Member.id).join(Household).where(scoping.town_filter(user, Household.town_id)),
        "service_item": items,
        "order": orders,
        "visit": visits,
        "visit_series": sa.select(VisitSeries.id).where(VisitSeries.order_id.in_(orders)),
        "service_record": sa.select(ServiceRecord.id).where(ServiceRecord.visit_id.in_(visits)),
        "pairing": sa.select(Pairing.id).join(Household, Household.id == Pairing.household_id)
        .where(scoping.town_filter(user, Household.town_id)),
        "provider": providers,
        "provider_member": sa.select(ProviderMember.id).where(ProviderMember.provider_id.in_(providers)),
        "volunteer": volunteers,
        "qualification": sa.select(Qualification.id).where(Qualification.provider_id.in_(providers)),
        "service_offer": sa.select(ServiceOffer.id).where(ServiceOffer.provider_id.in_(providers)),
        "user": users,
        "volunteer_task": sa.select(VolunteerTask.id).where(VolunteerTask.order_id.in_(orders)),
        "hours_certificate": sa.select(HoursCertificate.id).where(HoursCertificate.volunteer_id.in_(volunteers)),
        "item_draft": sa.select(ItemDraft.id).join(Household, Household.id == ItemDraft.household_id)
        .where(scoping.town_filter(user, Household.town_id)),
        "contract": sa.select(Contract.id).join(Agency, Agency.id == Contract.agency_id)
        .join(Provider, Provider.id == Agency.provider_id).where(scoping.contract_filter(user)),
        "api_token": sa.select(ApiToken.id).where(ApiToken.user_id.in_(users)),
        "api_client": sa.select(ApiClient.id).where(ApiClient.created_by_id.in_(users)),
    }


def scope_filter(user: User) -> sa.ColumnElement[bool]:
    """Audit rows the user may read: prefecture staff all; county and town staff rows about their county's (town's)
    objects or by its users; county staff also the system's rows (no user) about no object or one of no county."""
    if scoping.sees_every_county(user):
        return sa.true()
    if user.role not in (Role.city_staff, Role.town_staff) or (user.role == Role.town_staff and user.town_id is None):
        return sa.false()
    objects = _town_objects(user)
    about_town = [sa.and_(AuditLog.object_type == kind, AuditLog.object_id.in_(ids)) for kind, ids in objects.items()]
    by_town = AuditLog.user_id.in_(sa.select(User.id).where(scoping.user_filter(user)))
    if user.role == Role.city_staff:
        about_town.append(sa.and_(AuditLog.user_id.is_(None), sa.or_(AuditLog.object_type.is_(None),
                                                                     AuditLog.object_type.in_(UNSCOPED_OBJECTS))))
    return sa.or_(by_town, *about_town)


def log_query(user: User, action: str | None = None, actor: str | None = None, since: datetime | None = None,
              until: datetime | None = None) -> sa.Select:
    """Audit rows in the user's scope, newest first; `actor` matches a username or part of a display name."""
    query = sa.select(AuditLog).where(scope_filter(user))
    if action:
        query = query.where(AuditLog.action == action)
    actor = (actor or "").strip()[:60]
    if actor:
        query = query.where(AuditLog.user_id.in_(sa.select(User.id).where(sa.or_(
            sa.func.lower(User.username) == actor.lower(), User.display_name.icontains(actor, autoescape=True)))))
    if since is not None:
        query = query.where(AuditLog.at >= since)
    if until is not None:
        query = query.where(AuditLog.at < until)
    return query.options(selectinload(AuditLog.user)).order_by(AuditLog.at.desc(), AuditLog.id.desc())


def actions() -> list[str]:
    """Every action name the trail holds, for the viewer's filter."""
    return list(db.session.scalars(sa.select(AuditLog.action).distinct().order_by(AuditLog.action)))
