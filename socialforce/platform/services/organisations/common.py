"""What every organisation form shares: limits, the place an organisation sits and covers, audit snapshots."""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from socialforce.matching.geo import distance_km
from socialforce.platform import scoping
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    Provider,
    ProviderKind,
    ProviderStatus,
    Role,
    Town,
    User,
)
from socialforce.platform.services import ServiceError
from socialforce.platform.services.provider_profiles import (  # the same limits as a provider's own profile
    MAX_FROM_TOWN_KM,
    NAME_MAX,
    NAME_MIN,
    ProfileInvalid,
)

LICENCE_MIN, LICENCE_MAX = 4, 40
DEPARTMENT_MAX = 100
CODE_MIN, CODE_MAX = 2, 40
TITLE_MIN, TITLE_MAX = 2, 200
QUOTA_MIN, QUOTA_MAX = 1, 31
MAX_BUDGET_YUAN = Decimal("20000000")  # 2e9 cents: within an integer column
MAX_HOURS = 1_000_000.0
AGENCY_RADIUS_KM, UNIT_RADIUS_KM = 10.0, 5.0  # travel radius of a new organisation; it edits its own later
PHONE_RE = re.compile(r"^(?:1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")  # mobile, or landline with area code
UNIT_TYPES = {"department": _l("Government department"), "enterprise": _l("Enterprise"),
              "institution": _l("Public institution"), "group": _l("Social group"),
              "party": _l("Grassroots party organisation")}
CREDIT_CODE_ERRORS = {
    "length": _l("A unified social credit code has 18 characters."),
    "characters": _l("A unified social credit code uses digits and capital letters except I, O, S, V and Z."),
    "division": _l("Characters 3 to 8 of the code are the administrative division: six digits."),
    "check_character": _l("The last character (the check character) does not match: check the code for a typo."),
}


class OrganisationInvalid(ProfileInvalid):
    """Refused organisation, contract or pairing input: one message per field (already translated)."""


def require_city_staff(actor: User) -> None:
    """Agencies, units and contracts are the city bureau's register: refuse anyone else (403)."""
    if actor.role != Role.city_staff:
        raise ServiceError(_("Only city civil-affairs staff manage agencies, pairing units and contracts."),
                           status=403)


# ---------------------------------------------------------------- shared checks
@dataclass(frozen=True)
class Place:
    """Home town, covered towns and an optional exact place (None: the home town's centre)."""

    town_id: int | None
    town_ids: tuple[int, ...]
    lat: float | None = None
    lon: float | None = None


def _check_name(name: str, errors: dict[str, str]) -> str:
    name = (name or "").strip()
    if not NAME_MIN <= len(name) <= NAME_MAX:
        errors["name"] = _("Enter a name of %(low)s to %(high)s characters.", low=NAME_MIN, high=NAME_MAX)
    return name


def _check_place(place: Place, errors: dict[str, str], actor: User) -> tuple[Town | None, list[Town]]:
    """The home town and covered towns, all in the actor's county (another county's town is "not in the list")."""
    mine = scoping.town_filter(actor, Town.id)
    town = db.session.scalar(sa.select(Town).where(Town.id == place.town_id, mine)) \
        if place.town_id and place.town_id > 0 else None
    if town is None:
        errors["town_id"] = _("Choose a town from the list.")
    wanted = set(place.town_ids)
    covered = list(db.session.scalars(sa.select(Town).where(Town.id.in_(wanted), mine).order_by(Town.id))) \
        if wanted else []
    if not covered or len(covered) != len(wanted):
        errors["town_ids"] = _("Tick at least one town it covers (only towns from the list).")
    lat, lon = place.lat, place.lon
    if (lat is None) != (lon is None):
        errors["lat"] = _("Enter both latitude and longitude, or neither.")
    elif lat is not None and not (-90 <= lat <= 90 and -180 <= lon <= 180):  # NaN fails too
        errors["lat"] = _("Enter latitude and longitude in decimal degrees, e.g. 35.08 and 117.15.")
    elif town is not None and lat is not None and distance_km(lat, lon, town.lat, town.lon) > MAX_FROM_TOWN_KM:
        errors["lat"] = _("This place is more than %(n)s km from the town's centre; check the coordinates.",
                          n=int(MAX_FROM_TOWN_KM))
    return town, covered


def _apply_place(provider: Provider, town: Town, covered: list[Town], place: Place) -> None:
    if place.lat is not None:
        provider.lat, provider.lon = round(place.lat, 6), round(place.lon, 6)
    elif provider.id is None or provider.town_id != town.id:
        provider.lat, provider.lon = town.lat, town.lon  # the town's centre until staff know better
    provider.town_id = town.id
    provider.county_id = town.county_id
    provider.towns_covered = covered


def _new_provider(kind: ProviderKind, name: str, radius_km: float) -> Provider:
    provider = Provider(kind=kind, name=name, status=ProviderStatus.approved, radius_km=radius_km)
    return provider


def _snapshot(provider: Provider, extra: dict) -> dict:
    return {"name": provider.name, "town_id": provider.town_id, "lat": provider.lat, "lon": provider.lon,
            "towns": [t.id for t in provider.towns_covered], **extra}


def _changed(before: dict, after: dict) -> list[str]:
    return sorted(k for k in after if before.get(k) != after[k])


# ---------------------------------------------------------------- agencies
