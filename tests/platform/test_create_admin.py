"""create-admin: the first city-staff account from an empty database, by prompted password or a one-time link."""
import re

import pytest
import sqlalchemy as sa
from werkzeug.security import check_password_hash

from socialforce.platform.extensions import db
from socialforce.platform.models import AuditLog, County, OneTimeCode, Role, User
from socialforce.platform.reference import HOME_COUNTY
from tests.conftest import empty_tables, login


def admin(username: str = "admin") -> User | None:
    db.session.expire_all()
    return db.session.scalar(sa.select(User).where(User.username == username))


def test_prompted_password_twice_creates_the_first_city_staff(app, client):
    result = app.test_cli_runner().invoke(args=["create-admin", "--username", "chief", "--name", "局长"],
                                          input="s3cret-pass\ns3cret-pass\n")
    assert result.exit_code == 0, result.output
    user = admin("chief")
    assert user.role == Role.city_staff and user.active and not user.must_change_password
    assert check_password_hash(user.password_hash, "s3cret-pass")
    assert "s3cret-pass" not in result.output
    assert db.session.scalar(sa.select(AuditLog.action).where(AuditLog.object_id == user.id)) == "account_created"
    assert "/staff/" in login(client, "chief", "s3cret-pass").request.path


def test_password_rules_and_the_repeat_are_checked(app):
    runner = app.test_cli_runner()
    short = runner.invoke(args=["create-admin"], input="short\nshort\n")
    assert short.exit_code != 0 and admin() is None
    assert "8" in short.output
    mismatch = runner.invoke(args=["create-admin"], input="long-enough-1\nlong-enough-2\n")
    assert mismatch.exit_code != 0 and admin() is None


def test_link_prints_a_one_time_set_password_link_once(app, client):
    result = app.test_cli_runner().invoke(args=["create-admin", "--link"])
    assert result.exit_code == 0, result.output
    links = re.findall(r"https?://\S+/reset/(\S+)", result.output)
    assert len(links) == 1
    token = links[0]
    row = db.session.scalar(sa.select(OneTimeCode))
    assert token not in (row.secret_hash, row.target_enc)  # only a keyed hash is stored
    page = client.get(f"/reset/{token}")
    assert page.status_code == 200 and "admin" in page.get_data(as_text=True)
    from tests.conftest import csrf_token

    done = client.post(f"/reset/{token}", data={"csrf_token": csrf_token(client, f"/reset/{token}")})
    assert done.status_code == 303 and done.headers["Location"].endswith("/account/password")
    assert admin().must_change_password
    assert client.get("/staff/").headers["Location"].endswith("/account/password")  # a new password first
    again = app.test_client().get(f"/reset/{token}")
    assert "btn-primary w-100" not in again.get_data(as_text=True)  # works once: no button to continue
    assert app.test_client().post(f"/reset/{token}", data={"csrf_token": csrf_token(client, "/login")}
                                  ).status_code in (400, 404)


def test_refuses_when_a_city_staff_account_exists_unless_forced(app):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["create-admin", "--link"]).exit_code == 0
    refused = runner.invoke(args=["create-admin", "--username", "second"], input="another-pass\nanother-pass\n")
    assert refused.exit_code != 0
    assert "--force-another" in refused.output
    assert admin("second") is None
    forced = runner.invoke(args=["create-admin", "--username", "second", "--force-another"],
                           input="another-pass\nanother-pass\n")
    assert forced.exit_code == 0, forced.output
    assert db.session.scalar(sa.select(sa.func.count(User.id)).where(User.role == Role.city_staff)) == 2


def test_a_taken_username_is_refused_cleanly(app):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["create-admin", "--link"]).exit_code == 0
    result = runner.invoke(args=["create-admin", "--link", "--force-another"])
    assert result.exit_code != 0 and "Traceback" not in result.output


@pytest.fixture
def second_county(app):
    """A second county (no towns needed: create-admin names it by code)."""
    county = County(code="xuecheng", name_zh="薛城区", name_en="Xuecheng")
    db.session.add(county)
    db.session.commit()
    yield county
    db.session.rollback()
    empty_tables()
    db.session.execute(sa.delete(County).where(County.code == "xuecheng"))
    db.session.commit()


def test_with_one_county_the_admin_is_that_countys(app):
    result = app.test_cli_runner().invoke(args=["create-admin", "--link"])
    assert result.exit_code == 0, result.output
    assert admin().county_id == db.session.scalar(sa.select(County.id).where(County.code == HOME_COUNTY[0]))


def test_with_several_counties_the_county_must_be_named_by_a_known_code(app, second_county):
    runner = app.test_cli_runner()
    for args in (["create-admin", "--link"], ["create-admin", "--link", "--county", "nowhere"]):
        refused = runner.invoke(args=args)
        assert refused.exit_code != 0 and "Traceback" not in refused.output
        assert HOME_COUNTY[0] in refused.output and "xuecheng" in refused.output
        assert admin() is None
    created = runner.invoke(args=["create-admin", "--link", "--county", "xuecheng"])
    assert created.exit_code == 0, created.output
    assert admin().county_id == second_county.id
    home = runner.invoke(args=["create-admin", "--username", "chief", "--link", "--county", HOME_COUNTY[0]])
    assert home.exit_code == 0, home.output  # the first of this county: no --force-another needed
    assert admin("chief").county_id != second_county.id
    again = runner.invoke(args=["create-admin", "--username", "deputy", "--link", "--county", "xuecheng"])
    assert again.exit_code != 0 and "--force-another" in again.output and admin("deputy") is None
