"""The in-memory state shared by the seeding stages: random sources, ids and light row references."""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time

import numpy as np
import sqlalchemy as sa

from socialforce.platform.extensions import db
from socialforce.platform.models import AssistanceCategory, County, ServiceCategory, Town
from socialforce.platform.reference import COUNTIES
from socialforce.platform.seed.bulk import BulkWriter
from socialforce.platform.seed.names import IdFactory, Protector


def scaled(figure: float, scale: float, minimum: int = 0) -> int:
    """A figure scaled linearly and rounded half up, never below `minimum`."""
    return max(minimum, math.floor(figure * scale + 0.5))


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 12742.0 * math.asin(math.sqrt(a))


@dataclass(slots=True)
class TownRef:
    id: int
    code: str
    name_zh: str
    kind: str
    lat: float
    lon: float
    county_id: int = 0


@dataclass(slots=True)
class VillageRef:
    id: int
    town_id: int
    name: str
    lat: float
    lon: float


@dataclass(slots=True)
class MemberRef:
    id: int
    relation: str
    age: int
    sex: str
    disability_grade: int = 0
    categories: list[str] = field(default_factory=list)

    @property
    def minor(self) -> bool:
        return self.age < 18


@dataclass(slots=True)
class HouseholdRef:
    id: int
    kind: str  # dibao, tekun, disability, child, elderly
    town_id: int = 0
    village_id: int = 0
    lat: float = 0.0
    lon: float = 0.0
    members: list[MemberRef] = field(default_factory=list)
    has_services: bool = True

    @property
    def lives_alone_elderly(self) -> bool:
        return len(self.members) == 1 and self.members[0].age >= 60

    @property
    def categories(self) -> set[str]:
        return {c for m in self.members for c in m.categories}


@dataclass(slots=True)
class ProviderRef:
    id: int
    kind: str  # agency, unit, volunteer
    name: str
    town_id: int
    lat: float
    lon: float
    quality: float  # latent: drives acceptance and satisfaction in the synthetic history
    categories: tuple[str, ...] = ()
    strengths: tuple[str, ...] = ()
    towns: tuple[int, ...] = ()
    staff: list[int] = field(default_factory=list)  # provider_members ids (social workers, cadres)
    contract_id: int | None = None
    volunteer_id: int | None = None
    approved: bool = True
    qualifications: tuple[str, ...] = ()


@dataclass(slots=True)
class ItemRef:
    id: int
    household: HouseholdRef
    member_id: int | None
    category: str
    priority: str
    frequency: str
    windows: int
    slots: int
    created_at: datetime
    description: str
    status: str = "open"
    closed_at: datetime | None = None
    reserved: str | None = None  # kept free of history for a demo scenario


class World:
    """Everything the stages share: scale, the fixed clock, random sources, writer and references."""

    def __init__(self, scale: float, seed: int, today: date, writer: BulkWriter, county_index: int = 0):
        self.scale = scale
        code, self.county_zh, _en, self.region, self.county_short, self.county_one, _dlat, _dlon = \
            COUNTIES[county_index]
        self.today = today
        self.now = datetime.combine(today, time(1, 0))  # 09:00 in Tengzhou (UTC+8), stored as UTC
        self.rng = random.Random(seed)
        self.np = np.random.default_rng(seed)
        self.geo = random.Random(seed + 2)  # coordinates only
        self.writer = writer
        self.protect = Protector()
        self.ids = IdFactory(random.Random(seed + 1))
        self.county_id = county_id = db.session.scalar(sa.select(County.id).where(County.code == code))
        self.towns = [TownRef(t.id, t.code, t.name_zh, t.kind, t.lat, t.lon, t.county_id)
                      for t in db.session.scalars(sa.select(Town).where(Town.county_id == county_id)
                                                  .order_by(Town.id))]
        self.town_by_code = {t.code.split("-", 1)[-1]: t for t in self.towns}  # by TOWNS' code in every county
        self.town_by_id = {t.id: t for t in self.towns}
        self.assistance_id = dict(db.session.execute(
            sa.select(AssistanceCategory.code, AssistanceCategory.id)).tuples().all())
        self.service_id = dict(db.session.execute(
            sa.select(ServiceCategory.code, ServiceCategory.id)).tuples().all())
        self.task_categories = set(db.session.scalars(
            sa.select(ServiceCategory.code).where(ServiceCategory.volunteer_task.is_(True))))
        self.villages: dict[int, list[VillageRef]] = {}
        self.households: list[HouseholdRef] = []
        self.agencies: list[ProviderRef] = []
        self.units: list[ProviderRef] = []
        self.volunteers: list[ProviderRef] = []
        self.pairings: dict[int, tuple[ProviderRef, int | None]] = {}  # household id -> (unit, cadre)
        self.items: list[ItemRef] = []
        self.users: dict[str, int] = {}

    def neighbours(self, town: TownRef, count: int) -> list[TownRef]:
        """The `count` towns nearest to `town` (excluding itself)."""
        others = [t for t in self.towns if t.id != town.id]
        others.sort(key=lambda t: (distance_km(town.lat, town.lon, t.lat, t.lon), t.id))
        return others[:count]

    def jitter(self, lat: float, lon: float, km: float) -> tuple[float, float]:
        """A point about `km` kilometres (one standard deviation) around a centre."""
        sigma = km / 111.0
        dlat, dlon = self.geo.gauss(0.0, sigma), self.geo.gauss(0.0, sigma)
        return round(lat + dlat, 6), round(lon + dlon / math.cos(math.radians(lat)), 6)
