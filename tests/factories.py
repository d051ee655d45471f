"""Small builders for test rows (flush only; the test commits when other threads or processes must see them)."""
from __future__ import annotations

import itertools
from datetime import date

import sqlalchemy as sa

from socialforce.platform import crypto, idnumber, weekmask
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    Household,
    Member,
    Provider,
    ProviderKind,
    ProviderStatus,
    ServiceCategory,
    ServiceItem,
    Sex,
    Town,
    Village,
    Volunteer,
)

_seq = itertools.count(1)


def town(code: str = "longquan") -> Town:
    """A reference town by code."""
    return db.session.scalar(sa.select(Town).where(Town.code == code))


def category(code: str) -> ServiceCategory:
    """A reference service category by code."""
    return db.session.scalar(sa.select(ServiceCategory).where(ServiceCategory.code == code))


def household(town_code: str = "longquan", members: int = 1, born: date = date(1950, 3, 1)) -> Household:
    """A household with `members` members in a fresh village of the town."""
    n = next(_seq)
    t = town(town_code)
    village = Village(town_id=t.id, name=f"测试村{n}", lat=t.lat, lon=t.lon)
    db.session.add(village)
    db.session.flush()
    h = Household(code=f"T{n:06d}", town_id=t.id, village_id=village.id, head_name=f"户主{n}",
                  address=f"测试村{n}号")
    db.session.add(h)
    db.session.flush()
    for i in range(members):
        number = idnumber.make("370481", born, (n * 10 + i) % 1000) if n * 10 + i < 1000 else \
            idnumber.make("370481", date(1950 + (n % 50), 1 + i % 12, 1), n % 1000)
        db.session.add(Member(household_id=h.id, name=f"成员{n}-{i}", id_number_enc=crypto.encrypt(number),
                              id_number_hash=crypto.lookup_hash(number), id_masked=idnumber.mask(number),
                              id_suffix=number[-4:], relation="户主" if i == 0 else "子女",
                              birth_date=idnumber.birth_date_of(number), sex=Sex(idnumber.sex_of(number))))
    db.session.flush()
    return h


def item(h: Household, category_code: str = "daily_care", slots: int = 1, windows: int = weekmask.ALL,
         description: str = "需要生活照料") -> ServiceItem:
    """An open service item on a household's list."""
    it = ServiceItem(household_id=h.id, category_id=category(category_code).id, description=description,
                     windows=windows, slots_needed=slots)
    db.session.add(it)
    db.session.flush()
    return it


def provider(kind: ProviderKind, name: str | None = None, town_code: str = "longquan",
             status: ProviderStatus = ProviderStatus.approved) -> Provider:
    """An approved provider of a kind, placed at its town's centroid."""
    t = town(town_code)
    p = Provider(kind=kind, name=name or f"{kind.value}-{next(_seq)}", status=status, town_id=t.id,
                 lat=t.lat, lon=t.lon, radius_km=5.0)
    db.session.add(p)
    db.session.flush()
    return p


def volunteer(town_code: str = "longquan", skills: str = "daily_care", availability: int = weekmask.ALL) -> Volunteer:
    """An approved volunteer with a verified (synthetic) ID."""
    n = next(_seq)
    p = provider(ProviderKind.volunteer, f"志愿者{n}", town_code)
    number = idnumber.make("370402", date(1980 + n % 30, 1 + n % 12, 1 + n % 28), n % 1000)
    v = Volunteer(provider_id=p.id, real_name=p.name, id_number_enc=crypto.encrypt(number),
                  id_number_hash=crypto.lookup_hash(number + str(n)), id_masked=idnumber.mask(number),
                  id_verified=True, phone_enc=crypto.encrypt("13800000000"), phone_masked="138****0000",
                  skills=skills, availability=availability)
    db.session.add(v)
    db.session.flush()
    return v
