"""The OpenAPI 3.1 document of /api/v1 is valid, and every /api/v1 route of the app is in it."""
from __future__ import annotations

import re

from openapi_spec_validator import validate
from openapi_spec_validator.validation import OpenAPIV31SpecValidator


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


def test_the_document_is_valid_openapi_3_1(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    assert spec["openapi"].startswith("3.1")
    validate(spec, cls=OpenAPIV31SpecValidator)
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_every_api_route_is_documented_with_its_methods(app, client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint.startswith(("api-docs.", "api_reference.")):
            continue
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            if method.lower() not in paths.get(_openapi_path(rule.rule), {}):
                missing.append(f"{method} {rule.rule}")
    assert not missing, missing
    assert len(paths) >= 8


def test_errors_are_documented_as_problem_details(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/provider/orders/{order_id}/accept"]["post"]
    for code in ("401", "403", "404", "422"):
        assert "application/problem+json" in operation["responses"][code]["content"]
