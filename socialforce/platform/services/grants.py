"""Grants: county staff let a provider of another county serve theirs (`provider_counties`), and take it back.

The provider is named by a code its home county gave out and the staff user can check with it: an organisation's
unified social credit code, or a volunteer's number in the national volunteer system. A grant lets the provider
offer in the county's towns and reach its households by radius; revoking it takes the county's towns out of the
provider's offers (an offer left with no town is paused), so nothing new is matched there; orders already
dispatched run on.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from socialforce.platform import scoping, uscc
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    Agency,
    County,
    OfferStatus,
    PairingUnit,
    Provider,
    ServiceOffer,
    User,
    Volunteer,
    offer_towns,
    provider_counties,
)
from socialforce.platform.services import ServiceError, audit, matching

CODE_MAX = 40


@dataclass(frozen=True)
class Grant:
    """A provider of another county granted the staff user's county."""

    provider_id: int
    name: str
    kind: str
    home_county: str
    offers_here: int


def granted(user: User, zh: bool = True) -> list[Grant]:
    """The providers of other counties granted the user's county, by name."""
    here = scoping.county_towns(user.county_id)
    offers_here = (sa.select(sa.func.count(sa.distinct(ServiceOffer.id)))
                   .join(offer_towns, offer_towns.c.offer_id == ServiceOffer.id)
                   .where(ServiceOffer.provider_id == Provider.id, offer_towns.c.town_id.in_(here))
                   .scalar_subquery())
    rows = db.session.execute(
        sa.select(Provider.id, Provider.name, Provider.kind, County.name_zh, County.name_en, offers_here)
        .join(provider_counties, provider_counties.c.provider_id == Provider.id)
        .join(County, County.id == Provider.county_id)
        .where(provider_counties.c.county_id == user.county_id)
        .order_by(Provider.name, Provider.id))
    return [Grant(pid, name, kind.value, county_zh if zh else county_en, n)
            for pid, name, kind, county_zh, county_en, n in rows]


def find_provider(code: str) -> Provider | None:
    """The provider an organisation's credit code or a volunteer's national number names (None: none)."""
    code = (code or "").strip()
    if uscc.is_valid(code):
        credit = uscc.normalize(code)
        for model in (Agency, PairingUnit):
            found = db.session.scalar(sa.select(model.provider_id).where(model.credit_code == credit))
            if found is not None:
                return db.session.get(Provider, found)
    found = db.session.scalar(sa.select(Volunteer.provider_id).where(Volunteer.national_no == code).limit(1))
    return db.session.get(Provider, found) if found is not None else None


def grant(user: User, code: str, ip: str | None = None) -> Provider:
    """Let the provider `code` names serve the user's county; refused (400/409, nothing written) otherwise."""
    code = (code or "").strip()
    if not code or len(code) > CODE_MAX:
        raise ServiceError(_("Enter the organisation's unified social credit code or the volunteer's number."),
                           400, "code")
    provider = find_provider(code)
    if provider is None:
        raise ServiceError(_("No organisation or volunteer has this code."), 400, "code")
    if provider.county_id == user.county_id:
        raise ServiceError(_("%(name)s is based in this county already.", name=provider.name), 409, "code")
    try:
        with db.session.begin_nested():
            db.session.execute(provider_counties.insert().values(provider_id=provider.id, county_id=user.county_id))
    except IntegrityError:
        raise ServiceError(_("%(name)s may serve this county already.", name=provider.name), 409, "code") from None
    audit.record("county_granted", user, "provider", provider.id, ip=ip, county_id=user.county_id)
    matching.invalidate()
    return provider


def revoke(user: User, provider_id: int, ip: str | None = None, now: datetime | None = None) -> int:
    """Take the user's county back from a granted provider: its towns leave the provider's offers (an offer left
    with none is paused); the number of offers changed. 404 when the provider holds no such grant."""
    done = db.session.execute(sa.delete(provider_counties).where(
        provider_counties.c.provider_id == provider_id, provider_counties.c.county_id == user.county_id)).rowcount
    if not done:
        raise ServiceError(_("This provider holds no grant for your county."), 404)
    offers = sa.select(ServiceOffer.id).where(ServiceOffer.provider_id == provider_id)
    here = scoping.county_towns(user.county_id)
    changed = list(db.session.scalars(sa.select(offer_towns.c.offer_id.distinct()).where(
        offer_towns.c.offer_id.in_(offers), offer_towns.c.town_id.in_(here))))
    db.session.execute(sa.delete(offer_towns).where(offer_towns.c.offer_id.in_(changed),
                                                    offer_towns.c.town_id.in_(here)))
    townless = sa.select(offer_towns.c.offer_id)
    paused = db.session.execute(sa.update(ServiceOffer).where(
        ServiceOffer.id.in_(changed), ServiceOffer.id.not_in(townless), ServiceOffer.status == OfferStatus.active)
        .values(status=OfferStatus.paused).execution_options(synchronize_session=False)).rowcount
    audit.record("county_grant_revoked", user, "provider", provider_id, ip=ip, county_id=user.county_id,
                 offers_changed=len(changed), offers_paused=paused)
    matching.invalidate()
    return len(changed)
