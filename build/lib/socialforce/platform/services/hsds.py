"""The provider directory as Open Referral HSDS 3.0 JSON (read-only, public, no personal data).

Mapping:
- organization: each approved agency and pairing unit; plus one "volunteers" organization that stands for
  all volunteers together (a volunteer is a person: never published one by one).
- service: each service offer of an approved agency or pairing unit; plus, per town, one aggregated
  volunteer service whose capacity is the sum of the weekly slots offered by approved volunteers living there.
- location / service_at_location: the organization's own place (name, town, coordinates).
- schedule: the offer's weekly windows (weekmask) -> one WEEKLY schedule per period of the day, with byday
  and opens_at/closes_at from weekmask.PERIOD_HOURS (local time, UTC+8).
- service_area: each town an offer covers. taxonomy_term: the service categories (bilingual name),
  attached to services as attributes. service_capacity (HSDS 3.1 shape; extra properties are allowed in 3.0):
  the offer's slots_per_week.
IDs are UUID5 derived from our own ids, so they stay stable across exports.
Every text field is plain text: `published` strips markup from every string of a response (the portal applies it
to everything it serves), and free text written by providers also has ID- and phone-like numbers masked.
"""
from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from html.parser import HTMLParser

import sqlalchemy as sa

from socialforce.platform import localtime, reference, weekmask
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    OfferStatus,
    Provider,
    ProviderKind,
    ProviderStatus,
    ServiceCategory,
    ServiceOffer,
    Town,
    offer_categories,
)

NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://socialforce.tengzhou/hsds")
ORG_KINDS = (ProviderKind.agency, ProviderKind.unit)
DAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
PERIOD_ZH = {"morning": "上午", "afternoon": "下午", "evening": "晚上"}
KIND_ZH = {ProviderKind.agency: "专业社工服务机构", ProviderKind.unit: "结对帮扶单位"}
TAXONOMY_NAME = "滕州市社会救助服务类别 / Tengzhou social-assistance service categories"
TIMEZONE = 8
MAX_PER_PAGE = 100
# Free text is written by providers: drop anything that looks like a resident ID or a phone number.
_PERSONAL = re.compile(r"\d{17}[\dXx]|\d{15}|1[3-9]\d[\s-]?\d{4}[\s-]?\d{4}|0\d{2,3}-?\d{7,8}")


class NotFound(LookupError):
    """No published record has this id."""


def hsds_id(*parts: object) -> str:
    """A stable UUID5 for one of our records (e.g. hsds_id('service', 'offer', 12))."""
    return str(uuid.uuid5(NAMESPACE, "/".join(str(p) for p in parts)))


class _TextOf(HTMLParser):
    """The text of an HTML fragment: tags and comments dropped, entities decoded, script and style content dropped."""

    HIDDEN = frozenset({"script", "style", "template", "noscript", "iframe", "object"})
    BREAKS = frozenset({"br", "p", "div", "li", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        self.hidden += tag in self.HIDDEN
        self.handle_data(" " if tag in self.BREAKS else "")

    def handle_endtag(self, tag: str) -> None:
        self.hidden -= tag in self.HIDDEN and self.hidden > 0
        self.handle_data(" " if tag in self.BREAKS else "")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def plain_text(text: str) -> str:
    """`text` without markup, whitespace collapsed; stripped until stable, so escaped markup goes too (idempotent)."""
    while True:
        parser = _TextOf()
        parser.feed(text)
        parser.close()
        result = " ".join("".join(parser.parts).split())
        if result == text:
            return result
        text = result


def published(value):
    """A response with every string in it made plain text (dicts and lists walked)."""
    if isinstance(value, str):
        return plain_text(value)
    if isinstance(value, dict):
        return {key: published(item) for key, item in value.items()}
    if isinstance(value, list):
        return [published(item) for item in value]
    return value


def scrub(text: str | None) -> str:
    """Free text as plain text with ID-like and phone-like numbers masked (markup goes first: it can split a number)."""
    return _PERSONAL.sub("***", plain_text(text or ""))


def _timestamp(value: datetime | None) -> str | None:
    return value.isoformat(timespec="milliseconds") + "Z" if value else None


def _compact(obj: dict) -> dict:
    """HSDS fields are typed (no nulls): leave out the empty ones."""
    return {k: v for k, v in obj.items() if v is not None}


# ------------------------------------------------------------------ pages


@dataclass(frozen=True)
class PageRequest:
    page: int = 1
    per_page: int = 25

    @classmethod
    def parse(cls, page: str | None, per_page: str | None) -> PageRequest:
        """Page number (from 1) and size (1..100) from query strings; bad values fall back to defaults."""
        p = int(page) if page and page.isdigit() and int(page) > 0 else 1
        n = int(per_page) if per_page and per_page.isdigit() and int(per_page) > 0 else 25
        return cls(p, min(n, MAX_PER_PAGE))


def envelope(total: int, request: PageRequest, contents: list[dict]) -> dict:
    """The HSDS paginated list envelope around one page of contents."""
    pages = max(1, math.ceil(total / request.per_page)) if total else 0
    return {"total_items": total, "total_pages": pages, "page_number": request.page, "size": len(contents),
            "first_page": request.page == 1, "last_page": request.page >= pages, "empty": total == 0,
            "contents": contents}


def _paged(keys: list, request: PageRequest, build: Callable[[list], list[dict]]) -> dict:
    chunk = keys[(request.page - 1) * request.per_page: request.page * request.per_page]
    return envelope(len(keys), request, build(chunk) if chunk else [])


# ------------------------------------------------------------------ taxonomy


def taxonomy() -> dict:
    """The one taxonomy: the platform's service categories."""
    return {"id": hsds_id("taxonomy", "service_categories"), "name": TAXONOMY_NAME,
            "description": "服务类别 (Socialforce service-category taxonomy)", "version": "1"}


def taxonomy_term(category: ServiceCategory) -> dict:
    """A service category as a taxonomy term with a bilingual name."""
    return {"id": hsds_id("taxonomy_term", category.code), "code": category.code,
            "name": f"{category.name_zh} / {category.name_en}",
            "description": f"{category.name_zh}（{category.name_en}）", "taxonomy": TAXONOMY_NAME,
            "taxonomy_id": taxonomy()["id"], "taxonomy_detail": taxonomy(), "language": "zh"}


def _categories() -> dict[int, ServiceCategory]:
    return {c.id: c for c in reference.categories()}


def taxonomy_terms(request: PageRequest) -> dict:
    """All taxonomy terms, paginated."""
    categories = list(_categories().values())
    return _paged(categories, request, lambda chunk: [taxonomy_term(c) for c in chunk])


def taxonomy_term_by_id(term_id: str) -> dict:
    """One taxonomy term by its UUID."""
    for category in _categories().values():
        if hsds_id("taxonomy_term", category.code) == term_id:
            return taxonomy_term(category)
    raise NotFound(term_id)


def _attribute(service_id: str, category: ServiceCategory) -> dict:
    term = taxonomy_term(category)
    return {"id": hsds_id("attribute", service_id, category.code), "link_id": service_id,
            "link_type": "service", "link_entity": "service", "taxonomy_term_id": term["id"],
            "value": category.code, "taxonomy_term": term}


# ------------------------------------------------------------------ organizations


def _published_providers() -> sa.Select:
    return (sa.select(Provider).where(Provider.status == ProviderStatus.approved, Provider.kind.in_(ORG_KINDS))
            .order_by(Provider.id))


VOLUNTEERS_ORG = "volunteers"


def _volunteer_org() -> dict:
    return {"id": hsds_id("organization", VOLUNTEERS_ORG), "name": "滕州市志愿者队伍",
            "alternate_name": "Tengzhou volunteers (aggregated)",
            "description": "实名注册志愿者提供的生产、生活、教育、康复、情感帮扶，按镇街汇总发布，不公开志愿者个人信息。"}


def _org(provider: Provider, towns: dict[int, Town]) -> dict:
    town = towns.get(provider.town_id)
    where = town.name_zh if town else ""
    return {"id": hsds_id("organization", provider.id), "name": scrub(provider.name),
            "description": f"{KIND_ZH[ProviderKind(provider.kind)]}（{where}）"}


def _location(provider: Provider, towns: dict[int, Town]) -> dict:
    town = towns.get(provider.town_id)
    return _compact({"id": hsds_id("location", "provider", provider.id), "location_type": "physical",
                     "organization_id": hsds_id("organization", provider.id), "name": scrub(provider.name),
                     "description": f"滕州市{town.name_zh}" if town else None,
                     "latitude": round(provider.lat, 4), "longitude": round(provider.lon, 4)})


def _towns() -> dict[int, Town]:
    return {t.id: t for t in reference.towns()}


def _volunteer_towns(category_id: int | None = None) -> list[int]:
    """Towns with at least one active offer of an approved volunteer living there (optionally in a category)."""
    query = (sa.select(Provider.town_id).join(ServiceOffer, ServiceOffer.provider_id == Provider.id)
             .where(Provider.kind == ProviderKind.volunteer, Provider.status == ProviderStatus.approved,
                    ServiceOffer.status == OfferStatus.active).distinct().order_by(Provider.town_id))
    if category_id:
        query = query.join(offer_categories, offer_categories.c.offer_id == ServiceOffer.id).where(
            offer_categories.c.category_id == category_id)
    return list(db.session.scalars(query))


def organizations(request: PageRequest) -> dict:
    """Approved agencies and pairing units (and the aggregated volunteers), paginated (one-to-one fields)."""
    towns = _towns()
    keys: list = list(db.session.scalars(_published_providers().with_only_columns(Provider.id)))
    if _volunteer_towns():
        keys.append(VOLUNTEERS_ORG)

    def build(chunk: list) -> list[dict]:
        providers = {p.id: p for p in db.session.scalars(_published_providers().where(
            Provider.id.in_([k for k in chunk if k != VOLUNTEERS_ORG])))}
        return [_volunteer_org() if k == VOLUNTEERS_ORG else _org(providers[k], towns) for k in chunk]

    return _paged(keys, request, build)


def _find_org(org_id: str) -> int | str:
    if org_id == hsds_id("organization", VOLUNTEERS_ORG) and _volunteer_towns():
        return VOLUNTEERS_ORG
    for provider_id in db.session.scalars(_published_providers().with_only_columns(Provider.id)):
        if hsds_id("organization", provider_id) == org_id:
            return provider_id
    raise NotFound(org_id)


def organization_by_id(org_id: str, today: date | None = None) -> dict:
    """One organization, fully nested with its locations and services."""
    key = _find_org(org_id)
    if key == VOLUNTEERS_ORG:
        services = [_volunteer_service(t, full=True) for t in _volunteer_towns()]
        return {**_volunteer_org(), "locations": [], "services": [_without_org(s) for s in services]}
    towns = _towns()
    provider = db.session.get(Provider, key)
    offers = db.session.scalars(sa.select(ServiceOffer).where(ServiceOffer.provider_id == provider.id)
                                .order_by(ServiceOffer.id))
    services = [_without_org(_offer_service(o, towns, full=True, today=today)) for o in offers]
    return {**_org(provider, towns), "locations": [_location(provider, towns)], "services": services}


def _without_org(service: dict) -> dict:
    return {k: v for k, v in service.items() if k != "organization"}


# ------------------------------------------------------------------ services


def _status(offer: ServiceOffer, today: date) -> str:
    if offer.valid_to < today:
        return "inactive"
    return "active" if offer.status == OfferStatus.active else "temporarily closed"


def schedules(service_id: str, windows: int, valid_from: date | None = None,
              valid_to: date | None = None) -> list[dict]:
    """Weekly schedules from a weekmask: one per period of the day that has at least one day set."""
    result = []
    for p, period in enumerate(weekmask.PERIODS):
        days = [DAY_CODES[d] for d in range(weekmask.DAYS) if windows & weekmask.bit(d, p)]
        if not days:
            continue
        opens, closes = weekmask.PERIOD_HOURS[period]
        result.append(_compact({
            "id": hsds_id("schedule", service_id, period), "service_id": service_id,
            "valid_from": valid_from.isoformat() if valid_from else None,
            "valid_to": valid_to.isoformat() if valid_to else None,
            "dtstart": valid_from.isoformat() if valid_from else None,
            "timezone": TIMEZONE, "freq": "WEEKLY", "wkst": "MO", "interval": 1, "byday": ",".join(days),
            "opens_at": f"{opens:02d}:00", "closes_at": f"{closes:02d}:00",
            "description": f"每周{PERIOD_ZH[period]} {opens:02d}:00-{closes:02d}:00", "attending_type": "in person",
        }))
    return result


def service_area(service_id: str, town: Town) -> dict:
    """A town a service covers."""
    return {"id": hsds_id("service_area", service_id, town.id), "service_id": service_id,
            "name": town.name_zh, "description": f"滕州市{town.name_zh}（{town.name_en}）",
            "extent": town.name_zh, "extent_type": "text"}


def capacity(service_id: str, slots: int, description: str) -> dict:
    """Weekly capacity in the HSDS 3.1 service_capacity shape."""
    return {"id": hsds_id("service_capacity", service_id), "service_id": service_id,
            "unit": {"id": hsds_id("unit", "slots_per_week"), "name": "每周可接服务名额 / slots per week",
                     "scheme": "socialforce", "identifier": "slots_per_week"},
            "available": slots, "maximum": slots, "description": description}


LANGUAGE = {"name": "中文 Chinese", "code": "zh"}


def _offer_service(offer: ServiceOffer, towns: dict[int, Town], full: bool, today: date | None = None) -> dict:
    today = today or localtime.today()
    service_id = hsds_id("service", "offer", offer.id)
    provider = offer.provider
    service = _compact({
        "id": service_id, "organization_id": hsds_id("organization", provider.id),
        "name": scrub(offer.title), "description": scrub(offer.description), "status": _status(offer, today),
        "last_modified": _timestamp(offer.created_at), "organization": _org(provider, towns),
    })
    if not full:
        return service
    location = _location(provider, towns)
    sal_id = hsds_id("service_at_location", service_id, location["id"])
    service.update({
        "schedules": schedules(service_id, offer.windows, offer.valid_from, offer.valid_to),
        "service_areas": [service_area(service_id, t) for t in offer.towns],
        "service_at_locations": [{"id": sal_id, "service_id": service_id, "location_id": location["id"],
                                  "location": location}],
        "languages": [{"id": hsds_id("language", service_id), "service_id": service_id, **LANGUAGE}],
        "attributes": [_attribute(service_id, c) for c in offer.categories],
        "service_capacity": [capacity(service_id, offer.slots_per_week, "每周可同时服务的事项数")],
    })
    return service


def _volunteer_stats(town_ids: list[int]) -> dict[int, tuple[int, int]]:
    """Per town: approved volunteers with an active offer, and their summed weekly slots."""
    rows = db.session.execute(
        sa.select(Provider.town_id, sa.func.count(sa.distinct(Provider.id)), sa.func.sum(ServiceOffer.slots_per_week))
        .join(ServiceOffer, ServiceOffer.provider_id == Provider.id)
        .where(Provider.kind == ProviderKind.volunteer, Provider.status == ProviderStatus.approved,
               ServiceOffer.status == OfferStatus.active, Provider.town_id.in_(town_ids))
        .group_by(Provider.town_id)
    ).all()
    return {town_id: (people, int(slots or 0)) for town_id, people, slots in rows}


def _volunteer_windows(town_id: int) -> int:
    """The union of the weekly windows offered by a town's volunteers (one SQL aggregate per window bit)."""
    bits = [sa.func.max(sa.case((ServiceOffer.windows.op("&")(1 << b) != 0, 1), else_=0))
            for b in range(weekmask.DAYS * len(weekmask.PERIODS))]
    row = db.session.execute(
        sa.select(*bits).join(Provider, Provider.id == ServiceOffer.provider_id)
        .where(Provider.kind == ProviderKind.volunteer, Provider.status == ProviderStatus.approved,
               ServiceOffer.status == OfferStatus.active, Provider.town_id == town_id)
    ).one()
    return sum(1 << b for b, on in enumerate(row) if on)


def _volunteer_categories(town_id: int) -> list[ServiceCategory]:
    ids = set(db.session.scalars(
        sa.select(offer_categories.c.category_id).distinct()
        .join(ServiceOffer, ServiceOffer.id == offer_categories.c.offer_id)
        .join(Provider, Provider.id == ServiceOffer.provider_id)
        .where(Provider.kind == ProviderKind.volunteer, Provider.status == ProviderStatus.approved,
               ServiceOffer.status == OfferStatus.active, Provider.town_id == town_id)))
    return [c for c in _categories().values() if c.id in ids]


def _volunteer_service(town_id: int, full: bool, stats: dict[int, tuple[int, int]] | None = None) -> dict:
    town = db.session.get(Town, town_id)
    service_id = hsds_id("service", VOLUNTEERS_ORG, town_id)
    people, slots = (stats or _volunteer_stats([town_id])).get(town_id, (0, 0))
    service = {
        "id": service_id, "organization_id": hsds_id("organization", VOLUNTEERS_ORG),
        "name": f"志愿者服务（{town.name_zh}）", "alternate_name": f"Volunteer services in {town.name_en}",
        "description": f"{town.name_zh}{people}名实名注册志愿者提供的志愿服务，每周共约{slots}个服务名额。",
        "status": "active", "organization": _volunteer_org(),
    }
    if not full:
        return service
    service.update({
        "schedules": schedules(service_id, _volunteer_windows(town_id)),
        "service_areas": [service_area(service_id, town)],
        "service_at_locations": [],
        "languages": [{"id": hsds_id("language", service_id), "service_id": service_id, **LANGUAGE}],
        "attributes": [_attribute(service_id, c) for c in _volunteer_categories(town_id)],
        "service_capacity": [capacity(service_id, slots, "本镇街志愿者每周服务名额合计")],
    })
    return service


def _offers(organization: int | None, category_id: int | None) -> sa.Select:
    query = (sa.select(ServiceOffer.id).join(Provider, Provider.id == ServiceOffer.provider_id)
             .where(Provider.status == ProviderStatus.approved, Provider.kind.in_(ORG_KINDS))
             .order_by(ServiceOffer.id))
    if organization:
        query = query.where(Provider.id == organization)
    if category_id:
        query = query.where(ServiceOffer.id.in_(
            sa.select(offer_categories.c.offer_id).where(offer_categories.c.category_id == category_id)))
    return query


def services(request: PageRequest, organization_id: str | None = None, taxonomy_term_id: str | None = None,
             today: date | None = None) -> dict:
    """Published services (one-to-one fields and their organization), paginated; filter by org or term."""
    category_id = None
    if taxonomy_term_id:
        category_id = next((c.id for c in _categories().values()
                            if hsds_id("taxonomy_term", c.code) == taxonomy_term_id), -1)
    org: int | str | None = None
    if organization_id:
        try:
            org = _find_org(organization_id)
        except NotFound:
            return envelope(0, request, [])
    keys: list = []
    if org != VOLUNTEERS_ORG:
        keys += [("offer", i) for i in db.session.scalars(_offers(org, category_id))]
    if org in (None, VOLUNTEERS_ORG):
        keys += [(VOLUNTEERS_ORG, t) for t in _volunteer_towns(category_id)]
    towns = _towns()

    def build(chunk: list) -> list[dict]:
        offer_ids = [i for kind, i in chunk if kind == "offer"]
        offers = {o.id: o for o in db.session.scalars(sa.select(ServiceOffer).where(ServiceOffer.id.in_(offer_ids)))}
        stats = _volunteer_stats([t for kind, t in chunk if kind == VOLUNTEERS_ORG])
        return [_offer_service(offers[i], towns, full=False, today=today) if kind == "offer"
                else _volunteer_service(i, full=False, stats=stats) for kind, i in chunk]

    return _paged(keys, request, build)


def service_by_id(service_id: str, today: date | None = None) -> dict:
    """One service, fully nested: schedules, areas, location, taxonomy terms, capacity."""
    for offer_id in db.session.scalars(_offers(None, None)):
        if hsds_id("service", "offer", offer_id) == service_id:
            return _offer_service(db.session.get(ServiceOffer, offer_id), _towns(), full=True, today=today)
    for town_id in _volunteer_towns():
        if hsds_id("service", VOLUNTEERS_ORG, town_id) == service_id:
            return _volunteer_service(town_id, full=True)
    raise NotFound(service_id)


def api_info(openapi_url: str) -> dict:
    """The API's meta information (GET /)."""
    return {"version": "3.0", "profile": "https://docs.openreferral.org/en/v3.0/", "openapi_url": openapi_url}
