"""Reference data: the home county (Tengzhou) and its 21 towns, assistance categories, the service taxonomy, qualifications."""
from __future__ import annotations

import sqlalchemy as sa

from socialforce.platform.extensions import db
from socialforce.platform.models import AssistanceCategory, County, Role, ServiceCategory, Town, User

# The county-level units of Zaozhuang prefecture: code, zh, en, region code (GB/T 2260), short code, the one-character
# short name used in licence numbers, and the offset (degrees) of the demo's synthetic copy of TOWNS for that county.
COUNTIES: tuple[tuple[str, str, str, str, str, str, float, float], ...] = (
    ("tengzhou", "滕州市", "Tengzhou", "370481", "TZ", "滕", 0.0, 0.0),
    ("xuecheng", "薛城区", "Xuecheng", "370403", "XC", "薛", -0.30, 0.15),
    ("shizhong", "市中区", "Shizhong", "370402", "SZ", "枣", -0.25, 0.40),
    ("yicheng", "峄城区", "Yicheng", "370404", "YC", "峄", -0.45, 0.45),
    ("taierzhuang", "台儿庄区", "Taierzhuang", "370405", "TEZ", "台", -0.55, 0.75),
    ("shanting", "山亭区", "Shanting", "370406", "ST", "亭", 0.05, 0.45),
)
# The county every town of TOWNS belongs to (the only one until a second county is added): code, zh, en.
HOME_COUNTY: tuple[str, str, str] = COUNTIES[0][:3]
# code, Chinese name, English name, kind, approximate centroid (lat, lon)
TOWNS: tuple[tuple[str, str, str, str, float, float], ...] = (
    ("longquan", "龙泉街道", "Longquan Subdistrict", "street", 35.086, 117.163),
    ("jinghe", "荆河街道", "Jinghe Subdistrict", "street", 35.095, 117.140),
    ("shannan", "善南街道", "Shannan Subdistrict", "street", 35.065, 117.170),
    ("beixin", "北辛街道", "Beixin Subdistrict", "street", 35.118, 117.158),
    ("dongshahe", "东沙河街道", "Dongshahe Subdistrict", "street", 35.132, 117.222),
    ("hongxu", "洪绪镇", "Hongxu Town", "town", 35.148, 117.112),
    ("nanshahe", "南沙河镇", "Nanshahe Town", "town", 35.020, 117.118),
    ("dawu", "大坞镇", "Dawu Town", "town", 35.025, 117.236),
    ("binhu", "滨湖镇", "Binhu Town", "town", 34.957, 117.028),
    ("jisuo", "级索镇", "Jisuo Town", "town", 35.004, 117.070),
    ("xigang", "西岗镇", "Xigang Town", "town", 35.060, 117.042),
    ("jiangtun", "姜屯镇", "Jiangtun Town", "town", 35.170, 117.080),
    ("baogou", "鲍沟镇", "Baogou Town", "town", 35.198, 117.155),
    ("zhangwang", "张汪镇", "Zhangwang Town", "town", 34.968, 117.130),
    ("guanqiao", "官桥镇", "Guanqiao Town", "town", 34.958, 117.225),
    ("chaihudian", "柴胡店镇", "Chaihudian Town", "town", 34.925, 117.290),
    ("yangzhuang", "羊庄镇", "Yangzhuang Town", "town", 35.020, 117.330),
    ("mushi", "木石镇", "Mushi Town", "town", 35.150, 117.355),
    ("jiehe", "界河镇", "Jiehe Town", "town", 35.225, 117.245),
    ("longyang", "龙阳镇", "Longyang Town", "town", 35.235, 117.120),
    ("dongguo", "东郭镇", "Dongguo Town", "town", 35.190, 117.310),
)

# code, Chinese, English, vulnerable (raises the priority of the household's items)
ASSISTANCE_CATEGORIES: tuple[tuple[str, str, str, bool], ...] = (
    ("dibao", "低保", "Minimum living guarantee (dibao)", False),
    ("tekun", "特困", "Extreme poverty", True),
    ("dibao_edge", "低保边缘", "Near-dibao (marginal)", False),
    ("disability_living", "残疾人生活补贴", "Disabled persons' living subsidy", False),
    ("disability_care", "残疾人护理补贴", "Severely disabled persons' care subsidy", True),
    ("orphan", "散居孤儿", "Scattered orphan", True),
    ("child_difficulty", "困境儿童", "Child in difficulty", True),
    ("child_unsupported", "事实无人抚养儿童", "Child without de-facto guardian", True),
    ("elderly_poor", "经济困难老人", "Elderly person in economic difficulty", False),
    ("temporary", "临时救助", "Temporary assistance", False),
)

# qualification code -> (Chinese, English)
BACKGROUND_CHECK = "background_check"
"""The certificate of no criminal record staff record for a volunteer before any work with minors."""
QUALIFICATIONS: dict[str, tuple[str, str]] = {
    "licensed_social_worker": ("持证社工", "Licensed social worker"),
    "certified_counsellor": ("心理咨询师", "Certified counsellor"),
    "rehab_therapist": ("康复治疗师", "Rehabilitation therapist"),
    "lawyer": ("执业律师", "Practising lawyer"),
    "teacher": ("教师资格", "Teacher"),
    "medical": ("医护资格", "Medical professional"),
    BACKGROUND_CHECK: ("无犯罪记录证明", "Background check (work with minors)"),
}

# code, Chinese, English, qualifications (one of), volunteer task
SERVICE_CATEGORIES: tuple[tuple[str, str, str, str, bool], ...] = (
    ("counselling", "心理疏导", "Psychological counselling", "licensed_social_worker certified_counsellor", False),
    ("emotional_comfort", "精神慰藉", "Emotional comfort", "", True),
    ("resource_linking", "资源链接", "Resource linking", "licensed_social_worker", False),
    ("capability_building", "能力提升", "Capability building", "", False),
    ("social_integration", "社会融入", "Social integration", "", False),
    ("rehabilitation", "康复服务", "Rehabilitation", "rehab_therapist licensed_social_worker", False),
    ("tutoring", "学业辅导", "Education / tutoring", "", True),
    ("daily_care", "生活照料", "Daily-living care", "", True),
    ("employment", "生产就业帮扶", "Production / employment help", "", False),
    ("legal_aid", "法律援助", "Legal aid", "lawyer", False),
    ("medical_escort", "就医陪护", "Medical escort", "", True),
)


def home_county() -> County:
    """The home county (HOME_COUNTY), created when missing; flushes."""
    code, zh, en = HOME_COUNTY
    county = db.session.scalar(sa.select(County).where(County.code == code))
    if county is None:
        county = County(code=code, name_zh=zh, name_en=en)
        db.session.add(county)
        db.session.flush()
    return county


def ensure_demo_county(index: int) -> County:
    """County `index` of COUNTIES (0: the home county) with its towns, created when missing; flushes. Counties
    after the first get a synthetic copy of TOWNS (code prefixed with the county's short code, name with its name,
    centroid shifted), for demos and load tests only."""
    if index == 0:
        ensure_reference_data()
        return home_county()
    code, zh, en, _region, short, _one, dlat, dlon = COUNTIES[index]
    county = db.session.scalar(sa.select(County).where(County.code == code))
    if county is None:
        county = County(code=code, name_zh=zh, name_en=en)
        db.session.add(county)
        db.session.flush()
    have = set(db.session.scalars(sa.select(Town.code).where(Town.county_id == county.id)))
    for town_code, town_zh, town_en, kind, lat, lon in TOWNS:
        prefixed = f"{short.lower()}-{town_code}"
        if prefixed not in have:
            db.session.add(Town(code=prefixed, name_zh=f"{zh}{town_zh}", name_en=f"{en} {town_en}", kind=kind,
                                lat=round(lat + dlat, 3), lon=round(lon + dlon, 3), county=county))
    db.session.flush()
    return county


def ensure_reference_data() -> None:
    """Insert the towns, categories and taxonomy that are missing (idempotent); flushes, never commits."""
    county = home_county()
    have = set(db.session.scalars(sa.select(Town.code)))
    for code, zh, en, kind, lat, lon in TOWNS:
        if code not in have:
            db.session.add(Town(code=code, name_zh=zh, name_en=en, kind=kind, lat=lat, lon=lon, county=county))
    have = set(db.session.scalars(sa.select(AssistanceCategory.code)))
    for code, zh, en, vulnerable in ASSISTANCE_CATEGORIES:
        if code not in have:
            db.session.add(AssistanceCategory(code=code, name_zh=zh, name_en=en, vulnerable=vulnerable))
    have = set(db.session.scalars(sa.select(ServiceCategory.code)))
    for code, zh, en, quals, task in SERVICE_CATEGORIES:
        if code not in have:
            db.session.add(ServiceCategory(code=code, name_zh=zh, name_en=en, qualifications=quals,
                                           volunteer_task=task))
    db.session.flush()


def towns() -> list[Town]:
    """Every town, in id order (the lists and filters of every portal)."""
    return list(db.session.scalars(sa.select(Town).order_by(Town.id)))


def provider_towns(provider) -> list[Town]:
    """The towns a provider may offer in (its home county's and granted counties'), in id order."""
    from socialforce.platform.scoping import towns_served_by  # scoping imports flask; reference stays light

    return list(db.session.scalars(sa.select(Town).where(towns_served_by(provider)).order_by(Town.id)))


def home_towns(provider) -> list[Town]:
    """The towns a provider (or volunteer) may choose as its home town: its home county's, in id order."""
    from socialforce.platform.scoping import home_towns  # scoping imports flask; reference stays light

    return list(db.session.scalars(sa.select(Town).where(home_towns(provider)).order_by(Town.id)))


def signup_towns() -> dict[County, list[Town]] | list[Town]:
    """The towns of the public volunteer sign-up: every county's (the page names no county; the town chosen
    places the volunteer in its county), grouped by county when there are several."""
    rows = db.session.execute(sa.select(Town, County).join(County, County.id == Town.county_id)
                              .order_by(County.id, Town.id)).all()
    if len({county.id for _town, county in rows}) <= 1:
        return [town for town, _county in rows]
    groups: dict[County, list[Town]] = {}
    for town, county in rows:
        groups.setdefault(county, []).append(town)
    return groups


def scope_towns(user: User) -> list[Town]:
    """The towns a staff user may choose between: their county's for county staff, every county's for prefecture
    staff, none for a town's own staff."""
    if user.town_id is not None:
        return []
    query = sa.select(Town).order_by(Town.id)
    if user.role != Role.prefecture_staff:
        query = query.where(Town.county_id == (user.county_id or -1))
    return list(db.session.scalars(query))


def categories(volunteer_task: bool = False) -> list[ServiceCategory]:
    """Every service category in id order (only those served as volunteer tasks when `volunteer_task`)."""
    query = sa.select(ServiceCategory).order_by(ServiceCategory.id)
    return list(db.session.scalars(query.where(ServiceCategory.volunteer_task) if volunteer_task else query))
