"""Who does a visit (a provider member or a volunteer), their weekly windows, and their bookings.

No double-booking. A visit occupies [starts_at, ends_at) of its assignee; it may not intersect another planned,
checked-in or completed visit of the same assignee. The check runs in the service under a lock on the assignee's
row (`lock`): SELECT ... FOR UPDATE on PostgreSQL; on SQLite (which ignores FOR UPDATE) an UPDATE touching the row
takes the database write lock before the overlap check. Callers run the operation in `run_in_transaction`, which
retries when SQLite reports "database is locked".
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _

from socialforce.platform import scoping, weekmask
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    Order,
    Provider,
    ProviderMember,
    ServiceOffer,
    TaskSignup,
    User,
    Visit,
    VisitStatus,
    Volunteer,
    VolunteerTask,
)
from socialforce.platform.models.offers import OfferStatus
from socialforce.platform.services import ServiceError

BUSY = (VisitStatus.planned, VisitStatus.checked_in, VisitStatus.completed)
DEFAULT_OFFICE_HOURS = weekmask.from_cells([(d, p) for d in range(5) for p in (0, 1)])


@dataclass(frozen=True)
class Assignee:
    """Who does a visit: a provider member (social worker, cadre) or a volunteer; exactly one is set."""

    member_id: int | None = None
    volunteer_id: int | None = None

    def __post_init__(self):
        if (self.member_id is None) == (self.volunteer_id is None):
            raise ValueError("an assignee is either a provider member or a volunteer")

    @classmethod
    def of(cls, visit: Visit) -> Assignee:
        """The assignee of a visit."""
        return cls(member_id=visit.assignee_id, volunteer_id=visit.volunteer_id)

    def visit_filter(self) -> sa.ColumnElement[bool]:
        """The WHERE clause selecting this assignee's visits."""
        if self.member_id is not None:
            return Visit.assignee_id == self.member_id
        return Visit.volunteer_id == self.volunteer_id

    def columns(self) -> dict:
        """The visit columns naming this assignee."""
        return {"assignee_id": self.member_id, "volunteer_id": self.volunteer_id}

    def user_ids(self) -> list[int]:
        """The active logins of this assignee (for notifications)."""
        if self.member_id is not None:
            where = User.member_id == self.member_id
        else:
            where = User.provider_id == sa.select(Volunteer.provider_id).where(
                Volunteer.id == self.volunteer_id).scalar_subquery()
        return list(db.session.scalars(sa.select(User.id).where(where, User.active).order_by(User.id)))

    def name(self) -> str:
        """The assignee's display name."""
        if self.member_id is not None:
            return db.session.get(ProviderMember, self.member_id).name
        return db.session.get(Volunteer, self.volunteer_id).real_name


def order_assignee(order: Order, volunteer: Volunteer | None = None) -> Assignee:
    """The assignee for a new visit of `order`: its member, or (a volunteer task) a signed-up volunteer."""
    if order.provider_id is not None:
        if order.assignee_id is None:
            raise ServiceError(_("This order has no social worker or cadre assigned yet."))
        return Assignee(member_id=order.assignee_id)
    if volunteer is None or not db.session.scalar(
        sa.select(TaskSignup.id).join(VolunteerTask, VolunteerTask.id == TaskSignup.task_id)
        .where(VolunteerTask.order_id == order.id, TaskSignup.volunteer_id == volunteer.id)
    ):
        raise ServiceError(_("Only a volunteer signed up for this task can be scheduled for it."), status=400)
    return Assignee(volunteer_id=volunteer.id)


def assignee_windows(assignee: Assignee) -> int:
    """The assignee's weekly windows: a volunteer's availability, a member's provider's office hours."""
    if assignee.volunteer_id is not None:
        return db.session.get(Volunteer, assignee.volunteer_id).availability
    member = db.session.get(ProviderMember, assignee.member_id)
    masks = db.session.scalars(sa.select(ServiceOffer.windows).where(
        ServiceOffer.provider_id == member.provider_id, ServiceOffer.status == OfferStatus.active))
    union = 0
    for mask in masks:
        union |= mask
    return union or DEFAULT_OFFICE_HOURS


def lock(assignee: Assignee) -> None:
    """Serialise bookings of one assignee until the transaction ends (see the module docstring)."""
    model, key = ((ProviderMember, assignee.member_id) if assignee.member_id is not None
                  else (Volunteer, assignee.volunteer_id))
    if db.session.get_bind().dialect.name == "postgresql":
        found = db.session.execute(sa.select(model.id).where(model.id == key).with_for_update()).first()
    else:
        found = db.session.execute(
            sa.update(model).where(model.id == key).values(id=model.id)
            .execution_options(synchronize_session=False)).rowcount
    if not found:
        raise ServiceError(_("This person no longer exists."), status=404)


def conflicts(assignee: Assignee, starts_at: datetime, ends_at: datetime, exclude_id: int | None = None) -> list[Visit]:
    """The assignee's busy visits intersecting [starts_at, ends_at)."""
    query = sa.select(Visit).where(assignee.visit_filter(), Visit.status.in_(BUSY),
                                   Visit.starts_at < ends_at, Visit.ends_at > starts_at)
    if exclude_id is not None:
        query = query.where(Visit.id != exclude_id)
    return list(db.session.scalars(query.order_by(Visit.starts_at)))


def _assignee_town_filter(user: User) -> sa.ColumnElement[bool]:
    return scoping.provider_filter(user)


def find_assignees(user: User, query: str, limit: int = 20) -> tuple[list[ProviderMember], list[Volunteer]]:
    """Social workers, cadres and volunteers of providers in a staff user's scope whose name contains `query`."""
    pattern = f"%{query.strip()}%"
    members = db.session.scalars(
        sa.select(ProviderMember).join(Provider, Provider.id == ProviderMember.provider_id)
        .where(_assignee_town_filter(user), ProviderMember.name.like(pattern)).order_by(ProviderMember.name)
        .limit(limit)).all()
    volunteers = db.session.scalars(
        sa.select(Volunteer).join(Provider, Provider.id == Volunteer.provider_id)
        .where(_assignee_town_filter(user), Volunteer.real_name.like(pattern)).order_by(Volunteer.real_name)
        .limit(limit)).all()
    return list(members), list(volunteers)


def assignee_in_scope(user: User, member_id: int | None, volunteer_id: int | None) -> Assignee | None:
    """The named member or volunteer if their provider is in a staff user's scope, else None."""
    if member_id:
        found = db.session.scalar(sa.select(ProviderMember.id).join(Provider, Provider.id == ProviderMember.provider_id)
                                  .where(ProviderMember.id == member_id, _assignee_town_filter(user)))
        return Assignee(member_id=found) if found else None
    if volunteer_id:
        found = db.session.scalar(sa.select(Volunteer.id).join(Provider, Provider.id == Volunteer.provider_id)
                                  .where(Volunteer.id == volunteer_id, _assignee_town_filter(user)))
        return Assignee(volunteer_id=found) if found else None
    return None
