"""The public, read-only provider directory in Open Referral HSDS 3.0 JSON (no login, GET only).

Every route of the blueprint is listed in ROUTES below; the views live in the modules it names."""
from socialforce.portals.hsds import openapi, views
from socialforce.portals.hsds.views import bp
from socialforce.portals.routing import GET, add_routes

ROUTES = [  # (rule, endpoint, view, methods)
    ("/", "index", views.index, GET),
    ("/services", "services", views.services, GET),
    ("/services/<service_id>", "service", views.service, GET),
    ("/organizations", "organizations", views.organizations, GET),
    ("/organizations/<org_id>", "organization", views.organization, GET),
    ("/taxonomies", "taxonomies", views.taxonomies, GET),
    ("/taxonomies/<taxonomy_id>", "taxonomy", views.taxonomy, GET),
    ("/taxonomy_terms", "taxonomy_terms", views.taxonomy_terms, GET),
    ("/taxonomy_terms/<term_id>", "taxonomy_term", views.taxonomy_term, GET),
    ("/openapi.json", "openapi", openapi.openapi_json, GET),
]

add_routes(bp, ROUTES)

__all__ = ["bp"]
