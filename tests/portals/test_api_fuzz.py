"""Property-based fuzzing of /api/v1 with schemathesis, against the WSGI app, as a volunteer's, an agency
administrator's and a town staff member's token (each with every scope its role may hold): no answer is a 5xx,
and every answer conforms to the OpenAPI document (status, content type, schema)."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.portals.api_support import bearer, token_for

ROLES = ("volunteer1", "agency1", "town1")
CASES: list[int] = []


@pytest.fixture
def api_schema(app, demo):
    """The API's own OpenAPI document, loaded from the running app (after the demo seed)."""
    app.config["API_FUZZ_TOKENS"] = {name: token_for(name) for name in ROLES}
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_5xx_and_every_answer_conforms(case, app):
    for secret in app.config["API_FUZZ_TOKENS"].values():
        CASES.append(1)
        case.call_and_validate(headers=bearer(secret))
