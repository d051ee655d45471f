"""Volunteer registration (real-name, awaiting staff approval)."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext as _

from socialforce.platform import crypto, idnumber
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    Provider,
    ProviderKind,
    ProviderStatus,
    Role,
    Town,
    User,
    Volunteer,
)
from socialforce.platform.services import ServiceError, accounts, audit


@dataclass(frozen=True)
class Registration:
    username: str
    password: str
    real_name: str
    id_number: str
    phone: str
    town_id: int
    skills: tuple[str, ...]


def id_number_error(reason: str) -> str:
    """The user-facing message for an invalid resident ID reason."""
    return {
        "format": _("An ID number has 17 digits followed by a digit or X."),
        "birth_date": _("The birth date inside this ID number is not a real date."),
        "check_character": _("The last character of this ID number is wrong; please check the number."),
    }[reason]


def register(reg: Registration) -> User:
    """Create a pending volunteer with a login; refuses duplicates and invalid IDs. Flushes."""
    try:
        number = idnumber.normalize(reg.id_number)
    except idnumber.InvalidIdNumber as e:
        raise ServiceError(id_number_error(e.reason), status=400, field="id_number") from None
    town = db.session.get(Town, reg.town_id)
    if town is None:
        raise ServiceError(_("Unknown town."), status=400, field="town_id")
    id_hash = crypto.lookup_hash(number)
    if db.session.scalar(sa.select(Volunteer.id).where(Volunteer.id_number_hash == id_hash)):
        raise ServiceError(_("A volunteer with this ID number is already registered."), field="id_number")
    if db.session.scalar(sa.select(User.id).where(User.username == reg.username)):
        raise ServiceError(_("This username is taken; please choose another."), field="username")
    provider = Provider(kind=ProviderKind.volunteer, name=reg.real_name, status=ProviderStatus.pending,
                        town_id=town.id, lat=town.lat, lon=town.lon, radius_km=5.0)
    db.session.add(provider)
    db.session.flush()
    volunteer = Volunteer(
        provider_id=provider.id, real_name=reg.real_name, id_number_enc=crypto.encrypt(number),
        id_number_hash=id_hash, id_masked=idnumber.mask(number), phone_enc=crypto.encrypt(reg.phone),
        phone_masked=crypto.mask_phone(reg.phone), skills=" ".join(sorted(reg.skills)),
    )
    db.session.add(volunteer)
    user = accounts.create_user(reg.username, reg.password, Role.volunteer, reg.real_name,
                                provider_id=provider.id)
    audit.record("volunteer_registered", user, "provider", provider.id)
    return user
