"""HSDS 3.0 endpoints in the shape of its OpenAPI: services, organizations, taxonomies and taxonomy terms."""
from __future__ import annotations

from flask import Blueprint, jsonify, request, url_for
from flask_babel import gettext as _

from socialforce.platform.extensions import csrf
from socialforce.platform.localtime import today
from socialforce.platform.services import hsds

bp = Blueprint("hsds", __name__)
csrf.exempt(bp)


def _page() -> hsds.PageRequest:
    return hsds.PageRequest.parse(request.args.get("page"), request.args.get("per_page"))


def _json(data):
    """The JSON response, every text field plain text."""
    return jsonify(hsds.published(data))


@bp.after_request
def _headers(response):
    """Public data: cacheable for a few minutes, readable from any origin."""
    response.headers["Cache-Control"] = "public, max-age=300"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.errorhandler(hsds.NotFound)
def _not_found(_e):
    return jsonify(error=_("The page you asked for does not exist."), status=404), 404


def index():
    """Meta information about this API."""
    return _json(hsds.api_info(url_for("hsds.openapi", _external=True)))


def services():
    """Published services, paginated; filter by organization_id or taxonomy_term_id."""
    return _json(hsds.services(_page(), request.args.get("organization_id"), request.args.get("taxonomy_term_id"),
                                 today=today()))


def service(service_id: str):
    """One service with all its related data."""
    return _json(hsds.service_by_id(service_id, today=today()))


def organizations():
    """Published organizations, paginated."""
    return _json(hsds.organizations(_page()))


def organization(org_id: str):
    """One organization with its locations and services."""
    return _json(hsds.organization_by_id(org_id, today=today()))


def taxonomies():
    """The taxonomy of service categories."""
    return _json(hsds.envelope(1, hsds.PageRequest(), [hsds.taxonomy()]))


def taxonomy(taxonomy_id: str):
    """The taxonomy by id."""
    if taxonomy_id != hsds.taxonomy()["id"]:
        raise hsds.NotFound(taxonomy_id)
    return _json(hsds.taxonomy())


def taxonomy_terms():
    """The service categories as taxonomy terms, paginated."""
    return _json(hsds.taxonomy_terms(_page()))


def taxonomy_term(term_id: str):
    """One taxonomy term."""
    return _json(hsds.taxonomy_term_by_id(term_id))
