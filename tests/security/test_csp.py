"""Inline scripts run under the Content-Security-Policy: each one carries this response's nonce."""
from __future__ import annotations

import re

from socialforce.platform.extensions import db
from socialforce.platform.models import Role
from tests import factories
from tests.conftest import login

SCRIPT_RE = re.compile(r"<script(?![^>]*\bsrc=)([^>]*)>")


def test_inline_scripts_carry_the_responses_nonce(client):
    factories.user("city-staff", Role.city_staff)
    db.session.commit()
    login(client, "city-staff")
    page = client.get("/staff/imports")
    nonce = re.search(r"'nonce-([^']+)'", page.headers["Content-Security-Policy"]).group(1)
    inline = SCRIPT_RE.findall(page.get_data(as_text=True))
    assert inline, "the upload page has an inline script"
    assert all(f'nonce="{nonce}"' in attributes for attributes in inline)
