"""/hsds/openapi.json: the HSDS directory's own OpenAPI 3.1 document is valid (openapi-spec-validator), lists every
/hsds route, and the directory's real answers conform to the schemas it gives."""
from __future__ import annotations

import re

import jsonschema
from openapi_spec_validator import validate
from openapi_spec_validator.validation import OpenAPIV31SpecValidator


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


def _conforms(spec: dict, path: str, answer: dict, status: str = "200") -> None:
    schema = spec["paths"][path]["get"]["responses"][status]["content"]["application/json"]["schema"]
    jsonschema.Draft202012Validator({**schema, "components": spec["components"]}).validate(answer)


def test_the_document_is_valid_openapi_3_1_and_public(client):
    response = client.get("/hsds/openapi.json")
    assert response.status_code == 200 and response.headers["Access-Control-Allow-Origin"] == "*"
    spec = response.get_json()
    assert spec["openapi"] == "3.1.0"
    validate(spec, cls=OpenAPIV31SpecValidator)
    assert client.get("/hsds/").get_json()["openapi_url"].endswith("/hsds/openapi.json")


def test_every_hsds_route_is_in_the_document(app, client):
    paths = client.get("/hsds/openapi.json").get_json()["paths"]
    rules = {_openapi_path(r.rule) for r in app.url_map.iter_rules() if r.endpoint.startswith("hsds.")}
    assert rules and rules <= set(paths), rules - set(paths)


def test_real_answers_conform_to_the_documents_schemas(demo, client):
    spec = client.get("/hsds/openapi.json").get_json()
    services = client.get("/hsds/services?per_page=5").get_json()
    _conforms(spec, "/hsds/services", services)
    _conforms(spec, "/hsds/services/{service_id}", client.get(
        f"/hsds/services/{services['contents'][0]['id']}").get_json())
    organizations = client.get("/hsds/organizations").get_json()
    _conforms(spec, "/hsds/organizations", organizations)
    _conforms(spec, "/hsds/organizations/{org_id}", client.get(
        f"/hsds/organizations/{organizations['contents'][0]['id']}").get_json())
    _conforms(spec, "/hsds/taxonomies", client.get("/hsds/taxonomies").get_json())
    terms = client.get("/hsds/taxonomy_terms").get_json()
    _conforms(spec, "/hsds/taxonomy_terms", terms)
    _conforms(spec, "/hsds/taxonomy_terms/{term_id}", client.get(
        f"/hsds/taxonomy_terms/{terms['contents'][0]['id']}").get_json())
    missing = client.get("/hsds/services/nope")
    assert missing.status_code == 404
    _conforms(spec, "/hsds/services/{service_id}", missing.get_json(), "404")
    try:  # the check can fail: a page without its envelope does not conform
        _conforms(spec, "/hsds/services", {"contents": []})
    except jsonschema.ValidationError:
        pass
    else:
        raise AssertionError("an answer without the page envelope passed")
