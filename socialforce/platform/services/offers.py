"""Service offers (capacity) that agencies and pairing units publish: validate, publish, edit, pause and resume.

An offer says which service categories a provider serves, in which towns, how many items at once (slots per
week), inside which weekly time windows, and between which dates. Only active offers valid today are matched
(services/matching.py `load_offers`), and a member's office hours are the union of the provider's active offers'
windows (services/visits/assignees.py `assignee_windows`).

Validation collects every problem at once (field -> message), so the form can show each beside its field; a
refused change writes nothing. Pause and resume are compare-and-set UPDATEs on the status that was read, so two
concurrent clicks change the offer once. After every change the process's warm matching index is dropped, now
and again when the transaction commits (a rebuild between the flush and the commit would see the old rows).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask_babel import gettext as _

from socialforce.platform import reference, scoping
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    OfferStatus,
    Provider,
    Qualification,
    ServiceCategory,
    ServiceOffer,
    Town,
    User,
)
from socialforce.platform.services import ServiceError, audit, matching

TITLE_MIN, TITLE_MAX = 2, 100
DESCRIPTION_MAX = 500
SLOTS_MIN, SLOTS_MAX = 1, 1000  # the table's CHECK allows 0..1000; a published offer has at least one slot
WINDOWS_ALL = (1 << 21) - 1


class OfferInvalid(ServiceError):
    """Refused offer input: one message per field (already translated)."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(next(iter(errors.values())), status=400, field=next(iter(errors)))
        self.errors = errors


@dataclass(frozen=True)
class OfferInput:
    """What an offer form submits."""

    title: str
    description: str
    category_ids: tuple[int, ...]
    town_ids: tuple[int, ...]
    slots_per_week: int | None
    windows: int
    valid_from: date | None
    valid_to: date | None


def qualified_categories(provider: Provider, on: date) -> list[ServiceCategory]:
    """The categories the provider may offer: those needing no qualification or one in force (verified, not expired)."""
    held = set(db.session.scalars(sa.select(Qualification.code).where(
        Qualification.provider_id == provider.id, Qualification.in_force(on))))
    categories = reference.categories()
    return [c for c in categories if not c.qualification_codes or c.qualification_codes & held]


def validate(provider: Provider, data: OfferInput, today: date) -> tuple[list[ServiceCategory], list[Town]]:
    """The offer's categories and towns if the input is acceptable, else OfferInvalid naming every bad field."""
    errors: dict[str, str] = {}
    title = (data.title or "").strip()
    if not TITLE_MIN <= len(title) <= TITLE_MAX:
        errors["title"] = _("Give the offer a title of %(low)s to %(high)s characters.", low=TITLE_MIN,
                            high=TITLE_MAX)
    if len((data.description or "").strip()) > DESCRIPTION_MAX:
        errors["description"] = _("The description is limited to %(n)s characters.", n=DESCRIPTION_MAX)
    allowed = {c.id: c for c in qualified_categories(provider, today)}
    categories = [allowed[i] for i in sorted(set(data.category_ids)) if i in allowed]
    if not data.category_ids:
        errors["category_ids"] = _("Choose at least one service category.")
    elif len(categories) != len(set(data.category_ids)):
        errors["category_ids"] = _("You can only offer service categories your organisation is qualified for.")
    towns = list(db.session.scalars(sa.select(Town).where(  # another county's town reads as not in the list
        Town.id.in_(set(data.town_ids)), scoping.towns_served_by(provider)).order_by(Town.id))) if data.town_ids else []
    if not data.town_ids:
        errors["town_ids"] = _("Choose at least one town you serve.")
    elif len(towns) != len(set(data.town_ids)):
        errors["town_ids"] = _("Choose towns from the list.")
    if data.slots_per_week is None or not SLOTS_MIN <= data.slots_per_week <= SLOTS_MAX:
        errors["slots_per_week"] = _("Capacity is a whole number from %(low)s to %(high)s.", low=SLOTS_MIN,
                                     high=SLOTS_MAX)
    if not 0 < data.windows <= WINDOWS_ALL:
        errors["windows"] = _("Choose at least one time window.")
    if data.valid_from is None:
        errors["valid_from"] = _("Enter the first day of the offer.")
    if data.valid_to is None:
        errors["valid_to"] = _("Enter the last day of the offer.")
    elif data.valid_from is not None and data.valid_to < data.valid_from:
        errors["valid_to"] = _("The last day cannot be before the first day.")
    elif data.valid_to < today:
        errors["valid_to"] = _("The last day is in the past.")
    if errors:
        raise OfferInvalid(errors)
    return categories, towns


def offers_query(provider_id: int, status: OfferStatus | None = None) -> sa.Select:
    """A provider's offers, newest first, optionally of one status."""
    query = sa.select(ServiceOffer).where(ServiceOffer.provider_id == provider_id)
    if status is not None:
        query = query.where(ServiceOffer.status == status)
    return query.order_by(ServiceOffer.id.desc())


def get_offer(offer_id: int, user: User) -> ServiceOffer | None:
    """One of the user's own provider's offers, or None (another provider's offer is indistinguishable)."""
    if user.provider_id is None:
        return None
    return db.session.scalar(sa.select(ServiceOffer).where(ServiceOffer.id == offer_id,
                                                           ServiceOffer.provider_id == user.provider_id))


def _detail(offer: ServiceOffer) -> dict:
    return {"categories": [c.code for c in offer.categories], "towns": [t.id for t in offer.towns],
            "slots": offer.slots_per_week, "windows": offer.windows, "valid_from": offer.valid_from.isoformat(),
            "valid_to": offer.valid_to.isoformat()}


def _offers_changed() -> None:
    """Drop this process's warm matching index now and once more after the commit."""
    matching.invalidate()
    sa.event.listen(db.session(), "after_commit", lambda _session: matching.invalidate(), once=True)


def publish(provider: Provider, data: OfferInput, actor: User, today: date) -> ServiceOffer:
    """Publish a new active offer; audited."""
    categories, towns = validate(provider, data, today)
    offer = ServiceOffer(provider_id=provider.id, title=data.title.strip(), description=(data.description or "").strip(),
                         slots_per_week=data.slots_per_week, windows=data.windows, valid_from=data.valid_from,
                         valid_to=data.valid_to, status=OfferStatus.active)
    offer.categories = categories
    offer.towns = towns
    db.session.add(offer)
    db.session.flush()
    audit.record("offer_published", actor, "service_offer", offer.id, **_detail(offer))
    _offers_changed()
    return offer


def update(offer: ServiceOffer, data: OfferInput, actor: User, today: date) -> ServiceOffer:
    """Change an offer's categories, towns, capacity, windows, dates or text (its status stays); audited."""
    categories, towns = validate(offer.provider, data, today)
    before = _detail(offer)
    offer.title, offer.description = data.title.strip(), (data.description or "").strip()
    offer.slots_per_week, offer.windows = data.slots_per_week, data.windows
    offer.valid_from, offer.valid_to = data.valid_from, data.valid_to
    offer.categories = categories
    offer.towns = towns
    db.session.flush()
    after = _detail(offer)
    audit.record("offer_updated", actor, "service_offer", offer.id,
                 changed=sorted(k for k in after if after[k] != before[k]), **after)
    _offers_changed()
    return offer


def _set_status(offer: ServiceOffer, old: OfferStatus, new: OfferStatus) -> bool:
    done = db.session.execute(
        sa.update(ServiceOffer).where(ServiceOffer.id == offer.id, ServiceOffer.status == old)
        .values(status=new).execution_options(synchronize_session=False))
    db.session.refresh(offer)
    return done.rowcount == 1


def pause(offer: ServiceOffer, actor: User) -> ServiceOffer:
    """Stop matching new work to an active offer (orders already accepted go on); audited."""
    if not _set_status(offer, OfferStatus.active, OfferStatus.paused):
        raise ServiceError(_("This offer is already paused."))
    audit.record("offer_paused", actor, "service_offer", offer.id)
    _offers_changed()
    return offer


def resume(offer: ServiceOffer, actor: User, today: date) -> ServiceOffer:
    """Make a paused offer active again, unless it has ended or no longer fits the provider's qualifications."""
    if offer.status != OfferStatus.paused:
        raise ServiceError(_("This offer is already active."))
    if offer.valid_to < today:
        raise ServiceError(_("This offer ended on %(day)s. Edit its dates before resuming it.",
                             day=offer.valid_to.isoformat()), status=400)
    allowed = {c.id for c in qualified_categories(offer.provider, today)}
    if any(c.id not in allowed for c in offer.categories):
        raise ServiceError(_("Your organisation is no longer qualified for every category of this offer. "
                             "Edit its categories before resuming it."), status=400)
    if not _set_status(offer, OfferStatus.paused, OfferStatus.active):
        raise ServiceError(_("This offer is already active."))
    audit.record("offer_resumed", actor, "service_offer", offer.id)
    _offers_changed()
    return offer
