"""Volunteer registration (real-name, awaiting staff approval)."""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _

from socialforce.platform import crypto, idnumber, links, scoping, weekmask
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    Provider,
    ProviderKind,
    ProviderStatus,
    Qualification,
    Role,
    ServiceCategory,
    ServiceOffer,
    Town,
    User,
    Volunteer,
    utcnow,
)
from socialforce.platform.reference import BACKGROUND_CHECK, QUALIFICATIONS
from socialforce.platform.services import (
    ServiceError,
    accounts,
    audit,
    matching,
    notices,
    notifications,
    providers,
)

USERNAME_MAX = 60


@dataclass(frozen=True)
class Registration:
    username: str
    password: str
    real_name: str
    id_number: str
    phone: str
    town_id: int
    skills: tuple[str, ...]
    availability: int = 0  # a WeekMask of the weekly times the volunteer is usually free


def id_number_error(reason: str) -> str:
    """The user-facing message for an invalid resident ID reason."""
    return {
        "format": _("An ID number has 17 digits followed by a digit or X."),
        "birth_date": _("The birth date inside this ID number is not a real date."),
        "check_character": _("The last character of this ID number is wrong; please check the number."),
    }[reason]


def register(reg: Registration) -> User | None:
    """Record a public sign-up; a taken ID or username gets the same answer and goes to town staff. Flushes.

    Invalid input is refused. An ID already registered creates nothing: the registered volunteer's town staff are
    told, with the town the sign-up gave (the person may be signing up twice, or someone is using their ID). A
    taken username still creates the pending registration, under a free variant of it, and town staff are told
    to give the volunteer that login name when they call to review it. None is returned when nothing was created.
    """
    try:
        number = idnumber.normalize(reg.id_number)
    except idnumber.InvalidIdNumber as e:
        raise ServiceError(id_number_error(e.reason), status=400, field="id_number") from None
    town = db.session.get(Town, reg.town_id)
    if town is None:
        raise ServiceError(_("Unknown town."), status=400, field="town_id")
    skills = _check_registration_skills(reg.skills)
    if not 0 < reg.availability <= weekmask.ALL:
        raise ServiceError(_("Tick at least one time of the week when you are usually free."), status=400,
                           field="availability")
    id_hash = crypto.id_number_hash(number)
    registered = db.session.execute(sa.select(Provider.id, Provider.town_id).join(Volunteer).where(
        Volunteer.id_number_hash == id_hash)).first()
    if registered is not None:
        _refer_id_taken(town, registered.id, registered.town_id, reg.password)
        return None
    username = _free_username(reg.username)
    provider = Provider(kind=ProviderKind.volunteer, name=reg.real_name, status=ProviderStatus.pending,
                        town_id=town.id, lat=town.lat, lon=town.lon, radius_km=5.0)
    db.session.add(provider)
    db.session.flush()
    volunteer = Volunteer(
        provider_id=provider.id, real_name=reg.real_name, id_number_enc=crypto.encrypt(number),
        id_number_hash=id_hash, id_masked=idnumber.mask(number), phone_enc=crypto.encrypt(reg.phone),
        phone_masked=crypto.mask_phone(reg.phone), skills=" ".join(skills), availability=reg.availability,
    )
    db.session.add(volunteer)
    db.session.flush()
    _sync_offers(volunteer, town.id)  # the offer waits with the registration: matched from the moment of approval
    user = accounts.create_user(username, reg.password, Role.volunteer, reg.real_name, provider_id=provider.id)
    audit.record("volunteer_registered", user, "provider", provider.id, username_taken=username != reg.username)
    notices.registration_pending(provider.id, town)
    if username != reg.username:
        notifications.notify_town_staff(town.id, "volunteer_signup_username_taken", {"provider_id": provider.id},
                                        links.to("staff_provider", provider.id))
    return user


def _check_registration_skills(skills: tuple[str, ...]) -> list[str]:
    """The chosen kinds of help, sorted; at least one, each a category served as volunteer tasks."""
    chosen = sorted(set(skills))
    if not chosen:
        raise ServiceError(_("Choose at least one kind of help."), status=400, field="skills")
    allowed = set(db.session.scalars(sa.select(ServiceCategory.code).where(ServiceCategory.volunteer_task)))
    if not set(chosen) <= allowed:
        raise ServiceError(_("Choose kinds of help from the list."), status=400, field="skills")
    return chosen


def _refer_id_taken(town: Town, provider_id: int, provider_town_id: int, password: str) -> None:
    """Tell the registered volunteer's town staff that a sign-up used that ID; costs what creating a login costs."""
    accounts.spend_hashing_time(password)
    audit.record("volunteer_signup_id_taken", None, "provider", provider_id, town_id=town.id)
    notifications.notify_town_staff(provider_town_id, "volunteer_signup_id_taken",
                                    {"provider_id": provider_id, "town": town.code}, links.to("staff_provider", provider_id))


def _free_username(wanted: str) -> str:
    """`wanted` if no user has it, else `wanted` with a random suffix that no user has."""
    username = wanted
    while db.session.scalar(sa.select(User.id).where(User.username == username)):
        username = f"{wanted[:USERNAME_MAX - 9]}-{secrets.token_hex(4)}"
    return username


# ------------------------------------------------------------------ the volunteer's own profile
OFFER_SLOTS = 2
OFFER_DAYS = 365
PHONE_RE = re.compile(r"^1\d{10}$")


@dataclass(frozen=True)
class ProfileChange:
    skills: tuple[str, ...]
    town_id: int
    phone: str = ""  # empty: keep the number on file


@dataclass(frozen=True)
class CertificationInput:
    code: str
    document_no: str
    issued_on: date | None = None
    expires_on: date | None = None


@dataclass(frozen=True)
class BackgroundCheck:
    """The background-check status the volunteer sees: "valid", "expired" or "missing"."""

    status: str
    issued_on: date | None = None
    expires_on: date | None = None


def volunteer_of(user: User) -> Volunteer | None:
    """The volunteer row behind a volunteer login."""
    if user.provider_id is None:
        return None
    return db.session.scalar(sa.select(Volunteer).where(Volunteer.provider_id == user.provider_id))


def skill_choices(volunteer: Volunteer | None = None) -> list[ServiceCategory]:
    """Categories a volunteer may list as skills: those served as volunteer tasks, plus any already listed."""
    have = set(volunteer.skills.split()) if volunteer is not None else set()
    return list(db.session.scalars(sa.select(ServiceCategory).where(
        sa.or_(ServiceCategory.volunteer_task, ServiceCategory.code.in_(sorted(have)))).order_by(ServiceCategory.id)))


def certification_codes() -> list[str]:
    """Qualification codes a volunteer may add (all but the staff-recorded background check)."""
    return [code for code in QUALIFICATIONS if code != BACKGROUND_CHECK]


def certifications(volunteer: Volunteer) -> list[Qualification]:
    """The volunteer's certifications other than the background check, by code."""
    return list(db.session.scalars(sa.select(Qualification).where(
        Qualification.provider_id == volunteer.provider_id, Qualification.code != BACKGROUND_CHECK)
        .order_by(Qualification.code)))


def background_check(volunteer: Volunteer, on: date) -> BackgroundCheck:
    """Whether staff have recorded a background check, and whether it is still valid on `on`."""
    row = db.session.scalar(sa.select(Qualification).where(
        Qualification.provider_id == volunteer.provider_id, Qualification.code == BACKGROUND_CHECK))
    if row is None:
        return BackgroundCheck("missing")
    status = "expired" if row.expires_on is not None and row.expires_on < on else "valid"
    return BackgroundCheck(status, row.issued_on, row.expires_on)


def update_profile(volunteer: Volunteer, change: ProfileChange, actor: User) -> list[str]:
    """Change skills, home town and (optionally) phone; keeps the volunteer's offer in step. Flushes; returns
    the names of the fields that changed (nothing is written when none did)."""
    allowed = {c.code for c in skill_choices(volunteer)}
    skills = sorted(set(change.skills))
    if not skills:
        raise ServiceError(_("Choose at least one kind of help."), status=400, field="skills")
    if not set(skills) <= allowed:
        raise ServiceError(_("Choose kinds of help from the list."), status=400, field="skills")
    town = db.session.scalar(sa.select(Town).where(Town.id == change.town_id, scoping.home_towns(volunteer.provider)))
    if town is None:  # unknown or of another county: the volunteer's county stays its registration's
        raise ServiceError(_("Unknown town."), status=400, field="town_id")
    phone = change.phone.strip()
    if phone and not PHONE_RE.match(phone):
        raise ServiceError(_("A mobile number has 11 digits and starts with 1."), status=400, field="phone")
    changed = []
    provider = volunteer.provider
    old_town_id = provider.town_id
    if " ".join(skills) != " ".join(sorted(volunteer.skills.split())):
        volunteer.skills = " ".join(skills)
        changed.append("skills")
    if town.id != old_town_id:
        provider.town_id, provider.lat, provider.lon = town.id, town.lat, town.lon
        changed.append("town")
    if phone and phone != crypto.decrypt(volunteer.phone_enc):
        volunteer.phone_enc, volunteer.phone_masked = crypto.encrypt(phone), crypto.mask_phone(phone)
        changed.append("phone")
    if not changed:
        return []
    _sync_offers(volunteer, old_town_id)
    audit.record("volunteer_profile_updated", actor, "volunteer", volunteer.id, fields=changed)
    return changed


def update_availability(volunteer: Volunteer, mask: int, actor: User) -> bool:
    """Set the weekly availability (a WeekMask) and the offer's windows. Flushes; False when unchanged."""
    if not 0 <= mask <= weekmask.ALL:
        raise ServiceError(_("Unknown time window."), status=400, field="availability")
    if mask == volunteer.availability:
        return False
    before = len(weekmask.cells(volunteer.availability))
    volunteer.availability = mask
    _sync_offers(volunteer, volunteer.provider.town_id)
    audit.record("volunteer_availability_updated", actor, "volunteer", volunteer.id,
                 windows_before=before, windows_after=len(weekmask.cells(mask)))
    return True


def add_certification(volunteer: Volunteer, cert: CertificationInput, actor: User, on: date) -> Qualification:
    """Record a certification the volunteer holds (not the background check, which staff record). Flushes."""
    if cert.code not in certification_codes():
        raise ServiceError(_("Choose a certification from the list."), status=400, field="code")
    document_no = cert.document_no.strip()
    if not 4 <= len(document_no) <= 60:
        raise ServiceError(_("Enter the certificate number (4 to 60 characters)."), status=400, field="document_no")
    if cert.expires_on is not None and cert.expires_on < on:
        raise ServiceError(_("This certificate has expired."), status=400, field="expires_on")
    if cert.issued_on is not None and (cert.issued_on > on or (cert.expires_on and cert.issued_on > cert.expires_on)):
        raise ServiceError(_("The issue date cannot be in the future or after the expiry date."), status=400,
                           field="issued_on")
    exists = db.session.scalar(sa.select(Qualification.id).where(
        Qualification.provider_id == volunteer.provider_id, Qualification.code == cert.code))
    if exists:
        raise ServiceError(_("This certification is already on your profile."), status=409, field="code")
    row = Qualification(provider_id=volunteer.provider_id, code=cert.code, document_no=document_no,
                        issued_on=cert.issued_on, expires_on=cert.expires_on)
    db.session.add(row)
    db.session.flush()
    audit.record("volunteer_certification_added", actor, "qualification", row.id, code=cert.code)
    notices.awaiting_review("certification_pending", volunteer.provider.town)
    return row


def remove_certification(volunteer: Volunteer, qualification_id: int, actor: User) -> None:
    """Remove one of the volunteer's own certifications (never the background check). Flushes."""
    row = db.session.get(Qualification, qualification_id)
    if row is None or row.provider_id != volunteer.provider_id or row.code == BACKGROUND_CHECK:
        raise ServiceError(_("This certification is not on your profile."), status=404)
    audit.record("volunteer_certification_removed", actor, "qualification", row.id, code=row.code)
    db.session.delete(row)
    db.session.flush()


def _offer_texts(volunteer: Volunteer, skills: list[ServiceCategory]) -> tuple[str, str]:
    """An offer's title and description in the seed's wording (Chinese data: descriptions are matched as text)."""
    names = "、".join(c.name_zh for c in skills)
    return f"志愿服务：{names}"[:100], f"志愿者{volunteer.real_name[:1]}**利用业余时间提供{names}服务。"[:500]


def _sync_offers(volunteer: Volunteer, old_town_id: int) -> None:
    """Keep the volunteer's offers in step with the profile: categories = skills, windows = availability, the home
    town in place of the old one; creates an offer when there is none. Flushes."""
    provider = volunteer.provider
    skills = providers.skill_categories(volunteer.skills)
    home = db.session.get(Town, provider.town_id)
    offers = list(db.session.scalars(sa.select(ServiceOffer).where(ServiceOffer.provider_id == provider.id)
                                     .order_by(ServiceOffer.id)))
    if not offers:
        if not skills:
            return
        today = utcnow().date()
        offers = [ServiceOffer(provider_id=provider.id, slots_per_week=OFFER_SLOTS, valid_from=today,
                               valid_to=today + timedelta(days=OFFER_DAYS), towns=[home])]
        db.session.add(offers[0])
    title, description = _offer_texts(volunteer, skills)
    for offer in offers:
        offer.categories = skills
        offer.windows = volunteer.availability
        offer.title, offer.description = title, description
        towns = [t for t in offer.towns if t.id not in (old_town_id, home.id)]
        offer.towns = [home, *towns]
    db.session.flush()
    matching.offers_changed(provider)
