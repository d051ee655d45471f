"""The HSDS directory's own OpenAPI 3.1 document (/hsds/openapi.json): the Open Referral HSDS 3.0 API profile as
this directory serves it (GET only, no login, paginated lists). Kept beside the routes it describes; the test
validates it with openapi-spec-validator and checks every /hsds route and real answers against it."""
from __future__ import annotations

from flask import jsonify

PAGE_PARAMS = [
    {"name": "page", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1},
     "description": "1-based page number (anything else: page 1)."},
    {"name": "per_page", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1,
                                                                      "maximum": 100},
     "description": "Items per page (default 25, at most 100)."},
]


def _id(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _object(required: list[str], **properties) -> dict:
    return {"type": "object", "required": required, "properties": properties}


STRING = {"type": "string"}
NULLABLE_STRING = {"type": ["string", "null"]}

SCHEMAS = {
    "Error": _object(["error", "status"], error=STRING, status={"type": "integer"}),
    "Info": _object(["version"], version=STRING, profile=STRING, openapi_url=STRING),
    "Taxonomy": _object(["id", "name"], id=STRING, name=STRING, description=STRING, version=STRING),
    "TaxonomyTerm": _object(["id", "code", "name"], id=STRING, code=STRING, name=STRING, description=STRING,
                            taxonomy=STRING, taxonomy_id=STRING,
                            taxonomy_detail={"$ref": "#/components/schemas/Taxonomy"}, language=STRING),
    "Organization": _object(["id", "name"], id=STRING, name=STRING, alternate_name=STRING, description=STRING,
                            locations={"type": "array", "items": {"type": "object"}},
                            services={"type": "array", "items": {"type": "object"}}),
    "Service": _object(["id", "name"], id=STRING, name=STRING, organization_id=STRING, description=STRING,
                       status=STRING, attributes={"type": "array", "items": {"type": "object"}},
                       organization={"$ref": "#/components/schemas/Organization"}),
}


def _page_of(item: str) -> dict:
    return {"type": "object",
            "required": ["total_items", "total_pages", "page_number", "size", "first_page", "last_page", "empty",
                         "contents"],
            "properties": {"total_items": {"type": "integer"}, "total_pages": {"type": "integer"},
                           "page_number": {"type": "integer"}, "size": {"type": "integer"},
                           "first_page": {"type": "boolean"}, "last_page": {"type": "boolean"},
                           "empty": {"type": "boolean"},
                           "contents": {"type": "array", "items": {"$ref": f"#/components/schemas/{item}"}}}}


for _name in ("Service", "Organization", "Taxonomy", "TaxonomyTerm"):
    SCHEMAS[f"Page_{_name}"] = _page_of(_name)


def _json(schema: str, description: str) -> dict:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


NOT_FOUND = _json("Error", "No such record.")


def _get(summary: str, schema: str, parameters: list | None = None, one: bool = False) -> dict:
    responses = {"200": _json(schema, summary)}
    if one:
        responses["404"] = NOT_FOUND
    return {"get": {"summary": summary, "parameters": parameters or [], "responses": responses}}


def document() -> dict:
    """The OpenAPI 3.1 document of /hsds."""
    paths = {
        "/hsds/": _get("Meta information about this API.", "Info"),
        "/hsds/services": _get("Published services, paginated.", "Page_Service", [
            *PAGE_PARAMS, {"name": "organization_id", "in": "query", "required": False, "schema": STRING},
            {"name": "taxonomy_term_id", "in": "query", "required": False, "schema": STRING}]),
        "/hsds/services/{service_id}": _get("One service with its related data.", "Service",
                                            [_id("service_id")], one=True),
        "/hsds/organizations": _get("Published organizations, paginated.", "Page_Organization", PAGE_PARAMS),
        "/hsds/organizations/{org_id}": _get("One organization with its locations and services.",
                                             "Organization", [_id("org_id")], one=True),
        "/hsds/taxonomies": _get("The taxonomy of service categories.", "Page_Taxonomy", PAGE_PARAMS),
        "/hsds/taxonomies/{taxonomy_id}": _get("The taxonomy by id.", "Taxonomy", [_id("taxonomy_id")], one=True),
        "/hsds/taxonomy_terms": _get("Service categories as taxonomy terms, paginated.", "Page_TaxonomyTerm",
                                     PAGE_PARAMS),
        "/hsds/taxonomy_terms/{term_id}": _get("One taxonomy term.", "TaxonomyTerm", [_id("term_id")], one=True),
        "/hsds/openapi.json": {"get": {"summary": "This document.", "responses": {"200": {
            "description": "OpenAPI 3.1", "content": {"application/json": {"schema": {"type": "object"}}}}}}},
    }
    return {"openapi": "3.1.0",
            "info": {"title": "Socialforce HSDS directory", "version": "3.0",
                     "description": "Open Referral HSDS 3.0 (https://docs.openreferral.org/en/v3.0/): the public, "
                                    "read-only directory of approved providers and aggregated volunteer services."},
            "servers": [{"url": "/"}], "paths": paths, "components": {"schemas": SCHEMAS}}


def openapi_json():
    """The directory's OpenAPI 3.1 document."""
    return jsonify(document())
