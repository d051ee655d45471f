"""The providers registry: agencies, pairing units and volunteers in a staff user's scope, their details, and the
status changes staff make (approve a pending registration, suspend with a reason, reinstate).

Scope (`scoping.provider_filter`): county staff see and act on the providers of their county (home or granted), town
staff on the providers of their own town, prefecture staff only read, nobody else sees any.
A status change is a compare-and-set: an UPDATE conditioned on the status that was read (and on the scope), checked
with `rowcount == 1`, so of two concurrent approvals exactly one wins and the other is refused, changing nothing.
Only approved providers are ranked and dispatched to (services/matching.py `load_offers`, services/dispatch.py
`_check_provider`); the warm matching index of this process is dropped after every change.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask_babel import gettext as _

from socialforce.platform import links, scoping
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    Agency,
    AuditLog,
    Contract,
    Household,
    MemberRole,
    Order,
    OrderState,
    Pairing,
    Provider,
    ProviderKind,
    ProviderMember,
    ProviderStatus,
    Qualification,
    Role,
    ServiceCategory,
    User,
    utcnow,
)
from socialforce.platform.models.orders import LIVE_TASK_STATES
from socialforce.platform.reference import BACKGROUND_CHECK
from socialforce.platform.services import ServiceError, audit, dispatch, matching, notifications

REASON_MIN, REASON_MAX = 2, 200


@dataclass(frozen=True)
class Transition:
    """One staff action: the statuses it may start from and the status it leads to."""

    action: str
    sources: frozenset[ProviderStatus]
    target: ProviderStatus
    audit_action: str


TRANSITIONS: dict[str, Transition] = {
    "approve": Transition("approve", frozenset({ProviderStatus.pending}), ProviderStatus.approved,
                          "provider_approved"),
    # Suspending a pending registration is how staff turn it down; reinstating needs a suspended provider.
    "suspend": Transition("suspend", frozenset({ProviderStatus.pending, ProviderStatus.approved}),
                          ProviderStatus.suspended, "provider_suspended"),
    "reinstate": Transition("reinstate", frozenset({ProviderStatus.suspended}), ProviderStatus.approved,
                            "provider_reinstated"),
    # Turning down a volunteer's registration with a reason the volunteer sees (the provider is then suspended).
    "reject": Transition("reject", frozenset({ProviderStatus.pending}), ProviderStatus.suspended, "provider_rejected"),
}
REASON_ACTIONS = ("suspend", "reject")  # the actions that need a reason


def scope_filter(user: User) -> sa.ColumnElement[bool]:
    """The WHERE clause limiting providers to the user's scope (`scoping.provider_filter`)."""
    return scoping.provider_filter(user)


def get_in_scope(provider_id: int, user: User) -> Provider | None:
    """A provider inside the user's scope, or None (the view answers 404: never reveal one elsewhere)."""
    return db.session.scalar(sa.select(Provider).where(Provider.id == provider_id, scope_filter(user)))


def search(user: User, kind: str | None = None, status: str | None = None, town_id: int | None = None,
           q: str | None = None, awaiting_verification: bool = False) -> sa.Select:
    """Providers in scope matching the filters (unknown values are ignored): pending first, then newest."""
    query = sa.select(Provider).where(scope_filter(user))
    if awaiting_verification:
        query = query.where(Provider.id.in_(_awaiting_verification()))
    if kind in ProviderKind.__members__:
        query = query.where(Provider.kind == ProviderKind(kind))
    if status in ProviderStatus.__members__:
        query = query.where(Provider.status == ProviderStatus(status))
    if town_id:
        query = query.where(Provider.town_id == town_id)
    name = (q or "").strip()[:100]
    if name:
        query = query.where(Provider.name.icontains(name, autoescape=True))
    pending_first = sa.case((Provider.status == ProviderStatus.pending, 0), else_=1)
    return query.order_by(pending_first, Provider.id.desc())


def status_counts(user: User) -> dict[str, int]:
    """How many providers in scope are pending, approved and suspended."""
    rows = db.session.execute(sa.select(Provider.status, sa.func.count()).where(scope_filter(user))
                              .group_by(Provider.status)).all()
    counts = {s.value: 0 for s in ProviderStatus}
    counts.update({str(status): n for status, n in rows})
    return counts


def _awaiting_verification() -> sa.Select:
    return sa.select(Qualification.provider_id).where(Qualification.verified_at.is_(None))


def awaiting_verification_count(user: User) -> int:
    """How many providers in scope have a declared certificate staff have not verified yet."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(Provider).where(
        scope_filter(user), Provider.id.in_(_awaiting_verification())))


# ------------------------------------------------------------------ details
@dataclass(frozen=True)
class Certificate:
    """A qualification as shown to staff: its code, dates, whether it is still valid and whether staff verified it."""

    id: int
    code: str
    issued_on: date | None
    expires_on: date | None
    valid: bool
    verified: bool


def certificates(provider: Provider, today: date) -> list[Certificate]:
    """The provider's qualifications with their validity on `today` (document numbers are not shown)."""
    rows = db.session.scalars(sa.select(Qualification).where(Qualification.provider_id == provider.id)
                              .order_by(Qualification.code)).all()
    return [Certificate(q.id, q.code, q.issued_on, q.expires_on, q.expires_on is None or q.expires_on >= today,
                        q.verified_at is not None) for q in rows]


def background_check(certs: list[Certificate]) -> Certificate | None:
    """The background-check certificate among a provider's, if any."""
    return next((c for c in certs if c.code == BACKGROUND_CHECK), None)


def usernames(provider: Provider) -> list[str]:
    """The login names of a provider's own users (what staff tell a volunteer whose chosen name was taken)."""
    return list(db.session.scalars(sa.select(User.username).where(User.provider_id == provider.id)
                                   .order_by(User.id)))


def skill_categories(skills: str) -> list[ServiceCategory]:
    """The service categories named by a volunteer's space-separated skill codes, in taxonomy order."""
    codes = skills.split()
    if not codes:
        return []
    return list(db.session.scalars(sa.select(ServiceCategory).where(ServiceCategory.code.in_(codes))
                                   .order_by(ServiceCategory.id)))


def members(provider: Provider, role: MemberRole) -> sa.Select:
    """The provider's social workers or cadres, active first, by name (phones only masked)."""
    return (sa.select(ProviderMember).where(ProviderMember.provider_id == provider.id, ProviderMember.role == role)
            .order_by(ProviderMember.active.desc(), ProviderMember.name, ProviderMember.id))


def contracts(provider: Provider) -> sa.Select:
    """The agency's government-purchase contracts, newest period first."""
    return (sa.select(Contract).join(Agency).where(Agency.provider_id == provider.id)
            .order_by(Contract.ends_on.desc(), Contract.id.desc()))


def contract_totals(provider: Provider, on: date) -> tuple[float, float]:
    """Hours used and purchased over the agency's contracts in force on a date."""
    used, purchased = db.session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(Contract.used_hours), 0.0),
                  sa.func.coalesce(sa.func.sum(Contract.purchased_hours), 0.0))
        .join(Agency).where(Agency.provider_id == provider.id, Contract.starts_on <= on, Contract.ends_on >= on)
    ).one()
    return float(used or 0.0), float(purchased or 0.0)


def pairings(provider: Provider) -> sa.Select:
    """The pairing unit's pairings (current first) with their households and cadres."""
    return (sa.select(Pairing).join(Household, Household.id == Pairing.household_id)
            .where(Pairing.provider_id == provider.id)
            .order_by(Pairing.ended_on.is_not(None), Pairing.since.desc(), Pairing.id.desc()))


def pairing_counts(provider: Provider) -> tuple[int, int]:
    """Current and ended pairings of a pairing unit."""
    current, ended = db.session.execute(
        sa.select(sa.func.count().filter(Pairing.ended_on.is_(None)),
                  sa.func.count().filter(Pairing.ended_on.is_not(None)))
        .where(Pairing.provider_id == provider.id)).one()
    return int(current or 0), int(ended or 0)


def last_status_change(provider: Provider) -> AuditLog | None:
    """The latest audited approval, suspension or reinstatement of the provider (with its reason), if any."""
    return db.session.scalar(
        sa.select(AuditLog).where(AuditLog.object_type == "provider", AuditLog.object_id == provider.id,
                                  AuditLog.action.in_([t.audit_action for t in TRANSITIONS.values()]))
        .order_by(AuditLog.id.desc()).limit(1))


# ------------------------------------------------------------------ status changes
def refusal(action: str, status: ProviderStatus) -> str:
    """Why an action cannot be taken on a provider in this status (nothing was changed)."""
    messages = {
        ("approve", ProviderStatus.approved): _("This provider is already approved; nothing was changed."),
        ("approve", ProviderStatus.suspended): _("This provider is suspended; reinstate it instead. Nothing was "
                                                 "changed."),
        ("suspend", ProviderStatus.suspended): _("This provider is already suspended; nothing was changed."),
        ("reinstate", ProviderStatus.approved): _("This provider is not suspended; nothing was changed."),
        ("reinstate", ProviderStatus.pending): _("This registration is still pending; approve it instead. Nothing "
                                                 "was changed."),
    }
    return messages.get((action, status), _("This action is not possible now; nothing was changed."))


def change_status(provider_id: int, action: str, actor: User, reason: str | None = None,
                  ip: str | None = None) -> Provider:
    """Approve, suspend (with a reason) or reinstate a provider in the actor's scope; audited, flushes.

    The UPDATE is conditioned on the status just read, so a concurrent change makes this one refuse cleanly.
    Approving a volunteer also activates their login (if inactive) and notifies them.
    """
    transition = TRANSITIONS.get(action)
    if transition is None:
        raise ServiceError(_("Unknown action."), status=404)
    reason = (reason or "").strip()
    if action in REASON_ACTIONS and not REASON_MIN <= len(reason) <= REASON_MAX:
        raise ServiceError(_("Give a reason of %(min)s to %(max)s characters.", min=REASON_MIN, max=REASON_MAX),
                           status=400, field="reason")
    provider = get_in_scope(provider_id, actor)
    if provider is None:
        raise ServiceError(_("No such provider in your area."), status=404)
    db.session.refresh(provider, ["status"])
    before = provider.status
    if action == "reject" and provider.kind != ProviderKind.volunteer:
        raise ServiceError(_("Only a volunteer's registration can be turned down; suspend an organisation instead."))
    if before not in transition.sources:
        raise ServiceError(refusal(action, before))
    changed = db.session.execute(
        sa.update(Provider)
        .where(Provider.id == provider.id, Provider.status == before, scope_filter(actor))
        .values(status=transition.target)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:
        db.session.refresh(provider, ["status"])
        raise ServiceError(refusal(action, provider.status) if provider.status != before else
                           _("This provider was changed by someone else a moment ago; nothing was changed."))
    db.session.refresh(provider, ["status"])
    detail: dict = {"kind": provider.kind.value, "from_status": before.value, "to_status": transition.target.value}
    if reason:
        detail["reason"] = reason[:REASON_MAX]
    if provider.kind == ProviderKind.volunteer:
        detail.update(_after_volunteer_change(provider, action, before, reason))
    elif action == "suspend":
        detail.update(_release_open_orders(provider, actor, reason))
    audit.record(transition.audit_action, actor, "provider", provider.id, ip=ip, **detail)
    matching.invalidate()  # this process's warm index; others re-check status in rank_item
    return provider


def record_background_check(provider_id: int, issued_on: date, expires_on: date, document_no: str | None,
                            actor: User, today: date, ip: str | None = None) -> Qualification:
    """Record (or renew) a volunteer's background check for work with minors, seen by staff; audited, flushes."""
    provider = get_in_scope(provider_id, actor)
    if provider is None or provider.kind != ProviderKind.volunteer:
        raise ServiceError(_("No such volunteer in your area."), status=404)
    if issued_on > today:
        raise ServiceError(_("The issue date cannot be in the future."), status=400, field="issued_on")
    if expires_on <= max(issued_on, today):
        raise ServiceError(_("The check must still be valid: its end date must be after today and the issue date."),
                           status=400, field="expires_on")
    check = db.session.scalar(sa.select(Qualification).where(
        Qualification.provider_id == provider.id, Qualification.code == BACKGROUND_CHECK))
    if check is None:
        check = Qualification(provider_id=provider.id, code=BACKGROUND_CHECK)
        db.session.add(check)
    check.issued_on, check.expires_on = issued_on, expires_on
    check.document_no = (document_no or "").strip()[:60] or None
    check.verified_at, check.verified_by_id = utcnow(), actor.id  # staff saw the document
    db.session.flush()
    audit.record("background_check_recorded", actor, "provider", provider.id, ip=ip,
                 issued_on=issued_on.isoformat(), expires_on=expires_on.isoformat())
    return check


def verify_qualification(provider_id: int, qualification_id: int, actor: User, today: date,
                         ip: str | None = None) -> None:
    """Mark a provider's declared certificate as checked against the document, so it counts for matching; audited.

    A conditional update: of two staff verifying at once exactly one succeeds, the other is told it is done.
    """
    provider = get_in_scope(provider_id, actor)
    row = db.session.get(Qualification, qualification_id) if provider is not None else None
    if row is None or row.provider_id != provider.id:
        raise ServiceError(_("No such certificate in your area."), status=404)
    if row.expires_on is not None and row.expires_on < today:
        raise ServiceError(_("This certificate has expired; ask for a current one."), status=400)
    done = db.session.execute(
        sa.update(Qualification).where(Qualification.id == row.id, Qualification.verified_at.is_(None))
        .values(verified_at=utcnow(), verified_by_id=actor.id).execution_options(synchronize_session=False))
    if done.rowcount != 1:
        raise ServiceError(_("This certificate was already verified."), status=409)
    audit.record("qualification_verified", actor, "provider", provider.id, ip=ip, code=row.code)
    matching.invalidate()


def _release_open_orders(provider: Provider, actor: User, reason: str) -> dict:
    """Cancel a suspended organisation's orders not yet started (their items open again for another provider);
    orders already in service stay for staff to decide."""
    waiting = db.session.scalars(sa.select(Order).where(
        Order.provider_id == provider.id,
        Order.state.in_(LIVE_TASK_STATES)).order_by(Order.id)).all()
    for order in waiting:
        dispatch.cancel(order, actor, _("Provider suspended: %(reason)s", reason=reason)[:200])
    in_service = db.session.scalar(sa.select(sa.func.count(Order.id)).where(
        Order.provider_id == provider.id, Order.state == OrderState.in_service))
    return {"orders_cancelled": len(waiting), "orders_in_service": in_service}


def _after_volunteer_change(provider: Provider, action: str, before: ProviderStatus, reason: str = "") -> dict:
    """Activate an approved volunteer's login and tell them the decision on their registration; keep the reason a
    registration was turned down for the volunteer to read (the notice itself carries no free text)."""
    detail = {}
    if provider.volunteer is not None:
        provider.volunteer.rejection_reason = reason[:REASON_MAX] if action == "reject" else None
    if action == "reject":
        notifications.notify_provider(provider.id, "volunteer_rejected", {}, links.to("volunteer_home"))
    elif action == "approve":
        activated = db.session.execute(
            sa.update(User).where(User.provider_id == provider.id, User.role == Role.volunteer,
                                  User.active.is_(False))
            .values(active=True).execution_options(synchronize_session=False))
        detail["accounts_activated"] = activated.rowcount
        notifications.notify_provider(provider.id, "volunteer_approved", {}, links.to("volunteer_home"))
    elif action == "suspend" and before == ProviderStatus.pending:
        notifications.notify_provider(provider.id, "volunteer_rejected", {}, links.to("volunteer_home"))
    return detail
