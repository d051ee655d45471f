"""The HSDS 3.0 provider directory: valid against the official schemas, paginated, public, no personal data."""
from __future__ import annotations

import functools
import json
import re
from datetime import date
from pathlib import Path

import jsonschema
import pytest
import sqlalchemy as sa
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from socialforce.platform import weekmask
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    Household,
    Member,
    ProviderKind,
    ProviderMember,
    ProviderStatus,
    ServiceOffer,
    Volunteer,
)
from socialforce.platform.services import hsds
from tests import factories

STANDARD = Path(__file__).resolve().parents[1] / "fixtures" / "hsds"  # the official schemas the tests need
ID_NUMBER = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")
PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


@functools.cache
def registry() -> Registry:
    """Every schema/*.json by its file name, so the simple schemas' relative $refs resolve offline."""
    return Registry().with_resources(
        (path.name, Resource.from_contents(json.loads(path.read_text(encoding="utf-8")), default_specification=DRAFT202012))
        for path in (STANDARD / "schema").glob("*.json"))


@functools.cache
def validator(name: str):
    """A validator for an official schema: compiled/<name>.json, else schema/<name>.json (checked once)."""
    compiled = STANDARD / "schema" / "compiled" / f"{name}.json"
    path = compiled if compiled.exists() else STANDARD / "schema" / f"{name}.json"
    loaded = json.loads(path.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(loaded, default=jsonschema.Draft202012Validator)
    cls.check_schema(loaded)
    return cls(loaded, registry=registry())


@functools.cache
def page_validator():
    """The OpenAPI `Page` envelope, made strict about its members being present."""
    page = json.loads((STANDARD / "schema" / "openapi.json").read_text(encoding="utf-8"))["components"]["schemas"]["Page"]
    return jsonschema.Draft202012Validator({**page, "required": [*page["properties"], "contents"]})


def validate(document: dict, name: str) -> None:
    validator(name).validate(document)


def validate_list(document: dict, item: str) -> None:
    page_validator().validate(document)
    for entry in document["contents"]:
        validate(entry, item)


def _all_pages(client, path: str) -> list[dict]:
    first = client.get(f"{path}?per_page=100").json
    items = list(first["contents"])
    for page in range(2, first["total_pages"] + 1):
        items += client.get(f"{path}?per_page=100&page={page}").json["contents"]
    return items


def test_every_endpoint_validates_against_the_official_schemas(demo, client):
    documents = []
    services = client.get("/hsds/services?per_page=100")
    assert services.status_code == 200
    validate_list(services.json, "service_list")
    assert services.json["total_items"] > 0
    for entry in services.json["contents"]:
        full = client.get(f"/hsds/services/{entry['id']}").json
        validate(full, "service")
        documents.append(full)
    organizations = client.get("/hsds/organizations?per_page=100").json
    validate_list(organizations, "organization_list")
    for entry in organizations["contents"]:
        full = client.get(f"/hsds/organizations/{entry['id']}").json
        validate(full, "organization")
        documents.append(full)
    terms = client.get("/hsds/taxonomy_terms").json
    validate_list(terms, "taxonomy_term")
    assert terms["total_items"] == 11
    validate(client.get(f"/hsds/taxonomy_terms/{terms['contents'][0]['id']}").json, "taxonomy_term")
    validate_list(client.get("/hsds/taxonomies").json, "taxonomy")


def test_no_personal_data_of_households_or_volunteers(demo, client):
    text = json.dumps([client.get("/hsds/services?per_page=100").json, client.get("/hsds/organizations").json]
                      + [client.get(f"/hsds/services/{s['id']}").json for s in _all_pages(client, "/hsds/services")]
                      + [client.get(f"/hsds/organizations/{o['id']}").json
                         for o in _all_pages(client, "/hsds/organizations")], ensure_ascii=False)
    assert not ID_NUMBER.search(text) and not PHONE.search(text)
    names = set(db.session.scalars(sa.select(Household.head_name))) | set(db.session.scalars(sa.select(Member.name)))
    names |= set(db.session.scalars(sa.select(Volunteer.real_name)))
    names |= set(db.session.scalars(sa.select(ProviderMember.name)))
    assert names
    assert not [n for n in names if n in text]
    addresses = set(db.session.scalars(sa.select(Household.address)))
    assert not [a for a in addresses if a in text]


def test_volunteers_are_published_only_as_one_service_per_town(demo, client):
    services = _all_pages(client, "/hsds/services")
    volunteer_services = [s for s in services if s["organization_id"] == hsds.hsds_id("organization", "volunteers")]
    assert volunteer_services
    towns = {s["name"] for s in volunteer_services}
    assert len(towns) == len(volunteer_services)
    full = client.get(f"/hsds/services/{volunteer_services[0]['id']}").json
    town = full["service_areas"][0]["name"]
    offered = db.session.scalar(
        sa.select(sa.func.sum(ServiceOffer.slots_per_week)).join(ServiceOffer.provider)
        .where(ServiceOffer.status == "active", ServiceOffer.provider.has(kind="volunteer", status="approved"),
               ServiceOffer.provider.has(town_id=hsds_town_id(town))))
    assert full["service_capacity"][0]["available"] == offered


def hsds_town_id(name: str) -> int:
    from socialforce.platform.models import Town

    return db.session.scalar(sa.select(Town.id).where(Town.name_zh == name))


def test_schedules_areas_terms_and_capacity_come_from_the_offer(app, client):
    agency = factories.provider(ProviderKind.agency, "测试机构")
    windows = weekmask.from_cells([(0, 0), (2, 0), (4, 2)])  # Monday and Wednesday mornings, Friday evening
    offer = ServiceOffer(provider_id=agency.id, title="心理疏导 联系13912345678", description="服务 370481199001011234",
                         slots_per_week=7, windows=windows, valid_from=date(2026, 1, 1), valid_to=date(2099, 12, 31))
    offer.categories = [factories.category("counselling")]
    offer.towns = [factories.town("longquan"), factories.town("jinghe")]
    db.session.add(offer)
    hidden = factories.provider(ProviderKind.agency, "待审核机构", status=ProviderStatus.pending)
    db.session.add(ServiceOffer(provider_id=hidden.id, title="x", description="x", slots_per_week=1, windows=1,
                                valid_from=date(2026, 1, 1), valid_to=date(2099, 12, 31)))
    db.session.commit()
    listing = client.get("/hsds/services").json
    assert listing["total_items"] == 1  # the pending agency's offer is not published
    service_id = hsds.hsds_id("service", "offer", offer.id)
    assert listing["contents"][0]["id"] == service_id
    full = client.get(f"/hsds/services/{service_id}").json
    validate(full, "service")
    assert [(s["byday"], s["opens_at"], s["closes_at"]) for s in full["schedules"]] == [
        ("MO,WE", "08:00", "12:00"), ("FR", "18:00", "21:00")]
    assert [a["name"] for a in full["service_areas"]] == ["龙泉街道", "荆河街道"]
    assert full["attributes"][0]["taxonomy_term"]["name"] == "心理疏导 / Psychological counselling"
    assert full["service_capacity"][0]["available"] == 7
    assert "13912345678" not in json.dumps(full) and "370481199001011234" not in json.dumps(full)
    by_term = client.get(f"/hsds/services?taxonomy_term_id={hsds.hsds_id('taxonomy_term', 'legal_aid')}").json
    assert by_term["total_items"] == 0 and by_term["empty"] is True
    by_org = client.get(f"/hsds/services?organization_id={hsds.hsds_id('organization', agency.id)}").json
    assert by_org["total_items"] == 1


def test_pagination_envelope_ids_are_stable_and_unknown_ids_404(demo, client):
    first = client.get("/hsds/taxonomy_terms?per_page=4").json
    assert (first["total_items"], first["total_pages"], first["page_number"], first["size"]) == (11, 3, 1, 4)
    assert first["first_page"] and not first["last_page"] and not first["empty"]
    last = client.get("/hsds/taxonomy_terms?per_page=4&page=3").json
    assert last["size"] == 3 and last["last_page"]
    assert client.get("/hsds/taxonomy_terms?per_page=4").json == first
    assert first["contents"][0]["id"] == hsds.hsds_id("taxonomy_term", "counselling")
    for path in ("/hsds/services/", "/hsds/organizations/", "/hsds/taxonomy_terms/"):
        missing = client.get(path + "00000000-0000-0000-0000-000000000000")
        assert missing.status_code == 404 and missing.is_json


def test_the_directory_is_public_read_only_and_needs_no_csrf(demo, client):
    response = client.get("/hsds/services")
    assert response.status_code == 200 and response.is_json  # no login
    assert client.post("/hsds/services").status_code == 405
    assert client.get("/hsds/").json["version"] == "3.0"


def _strings(value) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


def test_every_text_field_is_plain_text_whatever_providers_wrote(app, client):
    agency = factories.provider(ProviderKind.agency, '<b onmouseover="alert(1)">阳光</b>社工 &amp; 服务中心')
    offer = factories.offer(agency, ("counselling",), description=(
        '<p>上门<i>陪护</i></p><script>alert("x")</script><style>p{}</style>'
        '&lt;img src=x onerror=alert(2)&gt;联系 1391234<span></span>5678<!-- note -->'))
    offer.title = '<a href="javascript:alert(3)">心理疏导</a>'
    db.session.commit()
    service_id = hsds.hsds_id("service", "offer", offer.id)
    org_id = hsds.hsds_id("organization", agency.id)
    full = client.get(f"/hsds/services/{service_id}").json
    validate(full, "service")
    assert full["name"] == "心理疏导"
    assert full["description"] == "上门陪护 联系 ***"
    assert full["organization"]["name"] == "阳光社工 & 服务中心"
    documents = [full, client.get(f"/hsds/organizations/{org_id}").json, client.get("/hsds/services").json,
                 client.get("/hsds/organizations").json, client.get("/hsds/taxonomy_terms").json]
    for text in (s for document in documents for s in _strings(document)):
        assert hsds.plain_text(text) == text and "alert" not in text and "<" not in text, text


@pytest.mark.parametrize("raw, plain", [
    ("<b>Hi</b>  there", "Hi there"), ("R&amp;D", "R&D"), ("5 &lt; 6", "5 < 6"), ("a < b", "a < b"),
    ("&lt;script&gt;alert(1)&lt;/script&gt;ok", "ok"), ("<script>never closed", ""),
])
def test_plain_text_drops_markup_and_escaped_markup_and_is_stable(raw, plain):
    assert hsds.plain_text(raw) == plain
    assert hsds.plain_text(plain) == plain
