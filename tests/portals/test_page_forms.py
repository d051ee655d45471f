"""Forms (issue 17), one mechanism for all: validation errors and a service's refusal both sit beside their field
(`forms.add_error` / `forms.refuse`), every error at once, with what was typed kept, status 400, nothing written."""
from __future__ import annotations

import re

import sqlalchemy as sa
from flask import get_flashed_messages
from flask_wtf import FlaskForm
from wtforms import StringField

from socialforce.platform.extensions import db
from socialforce.platform.models import Role, Volunteer
from socialforce.platform.services import ServiceError
from socialforce.portals.forms import add_error, has_errors, refuse
from tests import factories
from tests.conftest import csrf_token, login
from tests.portals.test_volunteer_signup import form as signup_form


class TwoFields(FlaskForm):
    class Meta:
        csrf = False

    name = StringField("name")
    note = StringField("note")


def invalid(html: str, field_id: str) -> str | None:
    """The message beside an invalid field, or None when the field is not marked invalid."""
    match = re.search(rf'<(?:input|textarea|select)[^>]*class="[^"]*is-invalid[^"]*"[^>]*id="{field_id}"[^>]*>'
                      rf'(?:.*?</(?:textarea|select)>)?\s*<div class="invalid-feedback">([^<]+)</div>', html, re.S)
    return match.group(1) if match else None


def test_a_refusal_goes_beside_its_field_else_the_default_else_a_flash(app):
    with app.test_request_context(method="POST"):
        form = TwoFields()
        assert not has_errors(form)
        refuse(form, ServiceError("taken", field="name"))
        refuse(form, ServiceError("no such field", field="other"), default="note")
        assert form.name.errors == ["taken"] and form.note.errors == ["no such field"] and has_errors(form)
        assert add_error(form, "name", "also short") and form.name.errors == ["taken", "also short"]
        refuse(form, ServiceError("nowhere", field="other"))  # no field to put it beside: flashed, not a 500
        assert get_flashed_messages(with_categories=True) == [("danger", "nowhere")]


def test_the_volunteer_signup_shows_every_error_at_once_and_keeps_the_input(client):
    data = signup_form(client, real_name="王", phone="12345", username="a b", confirm="something-else")
    response = client.post("/volunteer-signup", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    for field in ("real_name", "phone", "username", "confirm"):
        assert invalid(html, field), f"{field} is not flagged beside the field"
    assert "两次输入的密码不一致" in invalid(html, "confirm")
    assert re.search(r'id="phone"[^>]*value="12345"|value="12345"[^>]*id="phone"', html)  # kept
    assert re.search(r'id="username"[^>]*value="a b"|value="a b"[^>]*id="username"', html)
    assert db.session.scalar(sa.select(sa.func.count(Volunteer.id))) == 0


def test_the_password_form_flags_both_fields_at_once(client):
    factories.user("pw-user", Role.town_staff, town_id=factories.town("longquan").id)
    db.session.commit()
    login(client, "pw-user")
    response = client.post("/account/password", data={
        "csrf_token": csrf_token(client, "/account/password"), "current": "", "new": "short", "confirm": "other"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert invalid(html, "current") and invalid(html, "new") and invalid(html, "confirm")
