"""Where request values enter (socialforce/platform/inputs.py): ids beyond PostgreSQL's integer, 20-digit pages,
the calendar's edges, NUL bytes and over-long texts are refused with a clear answer and change nothing; an error
page still renders after a failed flush (the session is rolled back first)."""
from __future__ import annotations

from datetime import date, datetime

import pytest
import sqlalchemy as sa

from socialforce import create_app
from socialforce.platform import inputs
from socialforce.platform.extensions import db
from socialforce.platform.models import AuditLog, Order, OrderEvent, OrderState, Role, User
from tests import factories
from tests.conftest import IsolatedClient, csrf_token, login

HUGE = ["2147483648", "9223372036854775808", "99999999999999999999"]


def _staff_client(app):
    factories.user("city9", Role.city_staff)
    db.session.commit()
    app.test_client_class = IsolatedClient
    client = app.test_client()
    assert login(client, "city9").status_code == 200
    return client


def test_db_int_takes_only_the_integer_column_range():
    assert inputs.db_int(" 2147483647 ") == 2**31 - 1
    assert inputs.db_int("-2147483648") == -(2**31)
    for text in [*HUGE, "-2147483649", "1" * 5000, "", "1e3", "0x10"]:
        with pytest.raises(ValueError):
            inputs.db_int(text)


def test_dates_and_months_at_the_calendars_edges_are_not_dates():
    assert inputs.parse_date("2026-12-06") == date(2026, 12, 6)
    assert inputs.parse_month("2026-12") == date(2026, 12, 1)
    assert inputs.parse_datetime("2026-12-06T09:30") == datetime(2026, 12, 6, 9, 30)
    for text in ("0001-01-01", "9999-12-31", "2026-02-30", "20261206", "", None):
        assert inputs.parse_date(text) is None
    for text in ("9999-12", "0001-01", "2026-13", "0000-00"):
        assert inputs.parse_month(text) is None
    assert inputs.parse_datetime("9999-12-31T23:59") is None
    assert inputs.parse_ids(["3", "0", "-1", "x", "2147483648"]) == (3, -1, -1, -1, -1)


def test_path_ids_beyond_the_integer_range_are_404_on_every_route(app):
    client = _staff_client(app)
    for value in ["0", *HUGE]:
        assert client.get(f"/staff/households/{value}").status_code == 404
        assert client.get(f"/staff/items/{value}").status_code == 404
    assert client.get("/staff/households/2147483647").status_code == 404  # the largest id: looked up, missing
    bounded = [r.rule for r in app.url_map.iter_rules() if any(isinstance(c, inputs.IdConverter)
                                                                for c in r._converters.values())]
    assert len(bounded) > 30  # every blueprint's <int:...> got the bounded converter


def test_page_numbers_and_query_ints_out_of_range_are_the_default(app):
    client = _staff_client(app)
    for value in [*HUGE, "-5", "x"]:
        response = client.get(f"/staff/households?page={value}&town={value}&category={value}")
        assert response.status_code == 200
    assert client.get("/inbox/?page=99999999999999999999").status_code == 200


def test_far_dates_and_months_get_a_message_not_a_500(app):
    client = _staff_client(app)
    response = client.get("/staff/audit?date_from=0001-01-01&date_to=9999-12-31")
    assert response.status_code == 400
    assert "请按 YYYY-MM-DD 格式输入日期。" in response.get_data(as_text=True)
    assert client.get("/staff/dashboard?from=0001-01-01&to=9999-12-31").status_code == 400
    assert client.get("/staff/reports/monthly?month=9999-12").status_code == 400
    assert client.get("/staff/calendar?week=9999-12-31").status_code == 200


def test_a_nul_byte_on_the_anonymous_login_form_is_a_400_in_chinese_and_writes_nothing(app, client):
    factories.user("town9", Role.city_staff)
    db.session.commit()
    token = csrf_token(client)
    audit_before = db.session.scalar(sa.select(sa.func.count(AuditLog.id)))
    response = client.post("/login", data={"username": "town9\x00", "password": "demo1234", "csrf_token": token})
    assert response.status_code == 400
    assert "请求中含有空字符" in response.get_data(as_text=True)
    assert client.get("/login?next=%00").status_code == 400
    assert client.get("/hsds/services/a%00b").status_code == 400  # a path value too
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count(AuditLog.id))) == audit_before


def test_a_reason_longer_than_its_column_is_refused_and_nothing_changes(demo, app):
    agency1 = db.session.scalar(sa.select(User).where(User.username == "agency1"))
    order = db.session.scalar(sa.select(Order).where(Order.provider_id == agency1.provider_id,
                                                     Order.state == OrderState.dispatched).limit(1))
    assert order is not None
    events = db.session.scalar(sa.select(sa.func.count(OrderEvent.id)))
    app.test_client_class = IsolatedClient
    client = app.test_client()
    login(client, "agency1")
    response = client.post(f"/agency/orders/{order.id}/decline",
                           data={"reason": "x" * 201, "csrf_token": csrf_token(client, f"/agency/orders/{order.id}")})
    assert response.status_code == 400
    assert "最多 200 个字符" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Order, order.id).state == OrderState.dispatched
    assert db.session.scalar(sa.select(sa.func.count(OrderEvent.id))) == events


def test_the_length_check_runs_before_every_flush():
    factories.user("town8", Role.city_staff)
    db.session.commit()
    u = db.session.scalar(sa.select(User).where(User.username == "town8"))
    u.display_name = "x" * 10_000
    with pytest.raises(inputs.TextTooLong):
        db.session.flush()
    db.session.rollback()


def test_the_error_page_renders_after_a_failed_flush(app):
    """A fresh app with one route that breaks a unique constraint: the 500 page (which reads the inbox count)
    still renders in full because the session was rolled back first."""
    broken = create_app("testing", SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"])

    @broken.get("/break")
    def _break():
        from flask_login import current_user

        db.session.add(User(username=current_user.username, password_hash="x", role=Role.city_staff,
                            display_name="dup"))
        db.session.flush()
        return "unreachable"

    factories.user("city7", Role.city_staff)
    db.session.commit()
    broken.test_client_class = IsolatedClient
    client = broken.test_client()
    assert login(client, "city7").status_code == 200
    response = client.get("/break")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "系统出现错误" in body and 'id="inbox-link"' in body
    with broken.app_context():
        db.engine.dispose()


def test_form_dates_outside_the_platforms_range_are_form_errors(app):
    from socialforce.portals.staff.forms import BackgroundCheckForm

    for day, valid in (("2026-01-05", True), ("0001-01-01", False), ("9999-12-31", False)):
        data = {"document_no": "A1", "issued_on": day, "expires_on": "2027-01-05"}
        with app.test_request_context(method="POST", data=data):
            form = BackgroundCheckForm(meta={"csrf": False})
            assert form.validate() is valid
            if not valid:
                assert form.issued_on.errors == ["请输入 1900-01-01 至 2199-12-31 之间的日期。"]
