"""Small builders for test rows (flush only; the test commits when other threads or processes must see them)."""
from __future__ import annotations

import itertools
from datetime import date, timedelta

import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from socialforce.platform import crypto, idnumber, weekmask
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    Agency,
    Contract,
    County,
    Household,
    Member,
    MemberRole,
    Provider,
    ProviderKind,
    ProviderMember,
    ProviderStatus,
    Qualification,
    Role,
    ServiceCategory,
    ServiceItem,
    ServiceOffer,
    Sex,
    Town,
    User,
    Village,
    Volunteer,
    utcnow,
)

_seq = itertools.count(1)


def town(code: str = "longquan") -> Town:
    """A reference town by code."""
    return db.session.scalar(sa.select(Town).where(Town.code == code))


def category(code: str) -> ServiceCategory:
    """A reference service category by code."""
    return db.session.scalar(sa.select(ServiceCategory).where(ServiceCategory.code == code))


def second_county(town_code: str = "changzhuang", name_zh: str = "常庄街道",
                  name_en: str = "Changzhuang Subdistrict", lat: float = 34.795, lon: float = 117.263) -> County:
    """A second county (Xuecheng) with one town; `drop_county` removes it after `empty_tables`."""
    county = County(code="xuecheng", name_zh="薛城区", name_en="Xuecheng")
    db.session.add(county)
    db.session.flush()
    db.session.add(Town(code=town_code, name_zh=name_zh, name_en=name_en, kind="street", lat=lat, lon=lon,
                        county_id=county.id))
    db.session.flush()
    return county


def drop_county(county_id: int) -> None:
    """A test county's villages, towns and the county itself (reference rows `empty_tables` keeps); commits."""
    towns = sa.select(Town.id).where(Town.county_id == county_id)
    db.session.execute(sa.delete(Village).where(Village.town_id.in_(towns)))
    db.session.execute(sa.delete(Town).where(Town.county_id == county_id))
    db.session.execute(sa.delete(County).where(County.id == county_id))
    db.session.commit()


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


def offer(p: Provider, categories: tuple[str, ...], towns: tuple[str, ...] = ("longquan",), slots: int = 5,
          windows: int = weekmask.ALL, description: str = "上门服务") -> ServiceOffer:
    """An active offer valid for the whole year around today."""
    o = ServiceOffer(provider_id=p.id, title=f"{p.name}服务", description=description, slots_per_week=slots,
                     windows=windows, valid_from=date.today() - timedelta(days=180),
                     valid_to=date.today() + timedelta(days=180))
    o.categories = [category(c) for c in categories]
    o.towns = [town(t) for t in towns]
    db.session.add(o)
    db.session.flush()
    return o


def qualify(p: Provider, *codes: str, verified: bool = True) -> None:
    """Give a provider qualifications, verified by staff unless `verified` is False (declared, not yet checked)."""
    for code in codes:
        db.session.add(Qualification(provider_id=p.id, code=code, verified_at=utcnow() if verified else None))
    db.session.flush()


def agency(name: str, town_code: str = "longquan", hours: float = 100.0, categories=("counselling",),
           slots: int = 5) -> tuple[Provider, ProviderMember]:
    """An approved agency with a licensed worker, a contract with `hours` and an offer."""
    p = provider(ProviderKind.agency, name, town_code)
    a = Agency(provider_id=p.id, licence_no=f"L{p.id:05d}", contact_name="联系人")
    db.session.add(a)
    db.session.flush()
    db.session.add(Contract(agency_id=a.id, code=f"C{p.id:05d}", title="购买服务", budget_cents=1_000_000,
                            purchased_hours=hours, starts_on=date.today() - timedelta(days=100),
                            ends_on=date.today() + timedelta(days=265)))
    worker = ProviderMember(provider_id=p.id, role=MemberRole.social_worker, name=f"{name}社工",
                            certificate_level="social_worker")
    db.session.add(worker)
    qualify(p, "licensed_social_worker")
    offer(p, categories, (town_code,), slots)
    return p, worker


def user(username: str, role: Role, **kwargs) -> User:
    """A user with the demo password (cheap hash for speed)."""
    u = User(username=username, password_hash=generate_password_hash("demo1234", method="pbkdf2:sha256:1000"),
             role=role, display_name=username, **kwargs)
    db.session.add(u)
    db.session.flush()
    return u


def batch_where_best_first_serves_one() -> tuple[Provider, Provider, ServiceItem, ServiceItem]:
    """(a, b, near, far): agencies A and B with one slot each in 龙泉街道, A also serving 滨湖镇; a counselling item in
    each town. Both rank equally for the near item, A first, so taking each item's best in turn leaves `far` unserved."""
    a, _ = agency("甲社工", "longquan", slots=1)
    b, _ = agency("乙社工", "longquan", slots=1)
    offer_a = db.session.scalar(sa.select(ServiceOffer).where(ServiceOffer.provider_id == a.id))
    offer_a.towns.append(town("binhu"))
    near = item(household("longquan"), "counselling", description="需要心理疏导")
    far = item(household("binhu"), "counselling", description="需要心理疏导")
    return a, b, near, far


def odd_spelling(number: str) -> str:
    """The same resident ID as typed or pasted oddly: full-width digits, zero-width, ideographic and no-break
    spaces, a byte-order mark and a lower-case x."""
    wide = "".join(chr(ord(c) + 0xFEE0) for c in number[:17])
    return f" {wide[:6]}\u200b{wide[6:14]}\u3000{wide[14:]}\u00a0{number[17].lower()}\ufeff"
