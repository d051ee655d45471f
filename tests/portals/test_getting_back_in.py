"""Getting back in: "forgot password" codes over a real SMTP server and a local SMS gateway, no enumeration,
rate limits, expiry, the forced new password, and users verifying their own e-mail and mobile."""
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from werkzeug.security import check_password_hash

from socialforce.platform import crypto
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    AuditLog,
    MemberRole,
    OneTimeCode,
    ProviderKind,
    ProviderMember,
    Role,
    User,
    utcnow,
)
from socialforce.platform.services import one_time_codes as codes
from socialforce.platform.services import password_reset
from tests import factories
from tests.channel_stubs import APP_KEY, APP_SECRET, GatewayStub
from tests.conftest import csrf_token, login
from tests.portals.message_servers import SmtpServer, wait_for

CODE_RE = re.compile(r"\b(\d{6})\b")
PHONE = "13912345678"


@pytest.fixture
def servers(app, monkeypatch):
    """A real SMTP server and an SMS gateway, configured as the platform's channels."""
    sms = GatewayStub().start()
    with SmtpServer() as smtp:
        monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
        monkeypatch.setitem(app.config, "SMTP_PORT", smtp.port)
        for key, value in (("SMS_GATEWAY_URL", sms.url), ("SMS_APP_KEY", APP_KEY), ("SMS_APP_SECRET", APP_SECRET),
                           ("SMS_TEMPLATES", {"text": "SMS_100"})):
            monkeypatch.setitem(app.config, key, value)
        yield smtp.inbox.messages, sms.requests
        codes.wait_for_background()  # no code thread outlives its test
    sms.stop()


def person(username: str = "tao", email: str | None = "tao@example.org", phone: str | None = None,
           verified: bool = True) -> User:
    user = factories.user(username, Role.town_staff, town_id=factories.town().id)
    now = utcnow() if verified else None
    user.email, user.email_verified_at = email, now if email else None
    if phone:
        user.phone_enc, user.phone_masked = crypto.encrypt(phone), crypto.mask_phone(phone)
        user.phone_hash, user.phone_verified_at = crypto.lookup_hash("phone:" + phone), now
    db.session.commit()
    return user


def ask(client, identifier: str):
    """Post "forgot password"; buffered, so the response is closed (sent) at once, as a WSGI server closes it."""
    return client.post("/forgot-password", data={"identifier": identifier,
                                                 "csrf_token": csrf_token(client, "/forgot-password")},
                       buffered=True)


def enter(client, identifier: str, code: str):
    return client.post("/reset-code", data={"identifier": identifier, "code": code,
                                            "csrf_token": csrf_token(client, "/reset-code")})


def test_forgot_password_by_email_then_a_forced_new_password(app, client, servers):
    emails, _sms = servers
    user = person()
    answer = ask(client, "tao")
    assert answer.status_code == 200
    (to, _subject, body), = wait_for(emails)
    assert to == ["tao@example.org"]
    code = CODE_RE.search(body).group(1)
    stored = db.session.scalars(sa.select(OneTimeCode)).all()
    assert len(stored) == 1 and code not in stored[0].secret_hash
    assert all(code not in str(a.detail) for a in db.session.scalars(sa.select(AuditLog)))
    assert enter(client, "tao", "000000" if code != "000000" else "111111").status_code == 400
    done = enter(client, "tao", code)
    assert done.status_code == 303 and done.headers["Location"].endswith("/account/password")
    for page in ("/staff/", "/staff/households", "/inbox/", "/account"):  # every page waits for the new password
        assert client.get(page).headers["Location"].endswith("/account/password"), page
    form = client.get("/account/password").get_data(as_text=True)
    assert 'name="current"' not in form  # the code proved who they are
    changed = client.post("/account/password", data={"new": "brand-new-pw", "confirm": "brand-new-pw",
                                                     "csrf_token": csrf_token(client, "/account/password")})
    assert changed.status_code == 302
    db.session.expire_all()
    user = db.session.get(User, user.id)
    assert not user.must_change_password and check_password_hash(user.password_hash, "brand-new-pw")
    assert "/staff/" in login(client, "tao", "brand-new-pw").request.path
    assert enter(app.test_client(), "tao", code).status_code == 400  # used once


def test_forgot_password_by_verified_phone_goes_by_sms(app, client, servers):
    emails, sms = servers
    person(email=None, phone=PHONE)
    assert ask(client, "139 1234 5678").status_code == 200
    (message,) = wait_for(sms)
    assert message["phone"] == PHONE
    code = CODE_RE.search(message["template_params"]["text"]).group(1)
    assert emails == []
    assert enter(client, PHONE, code).status_code == 303


def _normalized(html: str) -> str:
    html = re.sub(r'name="csrf_token"[^>]*value="[^"]+"', "csrf", html)
    return re.sub(r'nonce="[^"]+"', "nonce", html)


def test_the_answer_never_tells_whether_an_account_exists(app, client, servers):
    emails, sms = servers
    person("qz_verified")
    person("qz_unverified", email="u@example.org", verified=False)
    person("qz_nocontact", email=None)
    member = factories.provider(ProviderKind.agency)
    worker = ProviderMember(provider_id=member.id, role=MemberRole.social_worker, name="社工",
                            phone_enc=crypto.encrypt(PHONE), phone_masked=crypto.mask_phone(PHONE))
    db.session.add(worker)
    db.session.flush()
    factories.user("qz_worker", Role.social_worker, provider_id=member.id, member_id=worker.id)
    db.session.commit()
    pages = {}
    for name in ("qz_verified", "qz_unverified", "qz_nocontact", "qz_worker", "qz_nobody"):
        answer = ask(app.test_client(), name)
        pages[name] = (answer.status_code, _normalized(answer.get_data(as_text=True).replace(name, "NAME")))
    import difflib
    first = pages["qz_nobody"][1].splitlines()
    for name, (_status, page) in pages.items():
        diff = list(difflib.unified_diff(first, page.splitlines(), lineterm="", n=0))
        assert not diff, name + "\n" + "\n".join(diff)
    assert len(set(pages.values())) == 1, {k: v[0] for k, v in pages.items()}
    wait_for(emails)
    assert [to for to, _s, _b in emails] == [["tao@example.org"]]  # only the verified address got a code
    assert sms == []  # the worker's member-record phone is not a verified contact of the account


def test_codes_asked_for_are_rate_limited_per_account_and_per_address(app, client, servers, monkeypatch):
    person()
    for _ in range(app.config["FORGOT_MAX_PER_ACCOUNT"]):
        assert ask(client, "tao").status_code == 200
    assert ask(client, "tao").status_code == 429
    for _ in range(app.config["FORGOT_MAX_PER_ACCOUNT"]):
        assert ask(client, "ghost").status_code == 200
    assert ask(client, "ghost").status_code == 429  # an unknown name is limited the same way
    monkeypatch.setitem(app.config, "FORGOT_MAX_PER_IP", 3)
    db.session.execute(sa.text("DELETE FROM login_throttles"))
    db.session.commit()
    for n in range(3):
        assert ask(client, f"someone{n}").status_code == 200
    assert ask(client, "someone-else").status_code == 429


def test_a_forgot_code_expires_after_15_minutes(app, servers):
    emails, _sms = servers
    person()
    now = utcnow()
    request = password_reset.request_code("tao", "10.0.0.1", now)
    delivery = password_reset.issue_code(request)
    db.session.commit()
    code = CODE_RE.search(delivery.body).group(1)
    assert password_reset.redeem_code("tao", code, now + timedelta(minutes=15, seconds=1)) is None
    assert password_reset.redeem_code("tao", code, now + timedelta(minutes=14)) is not None


def test_users_verify_their_own_email_and_mobile(app, client, servers):
    emails, sms = servers
    user = person("self", email=None)
    login(client, "self")
    token = csrf_token(client, "/account")
    sent = client.post("/account/contact", data={"kind": "email", "address": "Self@Example.org",
                                                 "csrf_token": token})
    assert sent.status_code == 200
    (to, _subject, body), = wait_for(emails)
    assert to == ["self@example.org"]
    db.session.expire_all()
    assert db.session.get(User, user.id).email is None  # not stored before it is verified
    wrong = client.post("/account/contact/confirm", data={"kind": "email", "code": "abcdef", "csrf_token": token})
    assert wrong.status_code == 400 and "is-invalid" in wrong.get_data(as_text=True)
    code = CODE_RE.search(body).group(1)
    ok = client.post("/account/contact/confirm", data={"kind": "email", "code": code, "csrf_token": token})
    assert ok.status_code == 303
    client.post("/account/contact", data={"kind": "phone", "address": PHONE, "csrf_token": token})
    (message,) = wait_for(sms)
    assert message["phone"] == PHONE
    client.post("/account/contact/confirm", data={"kind": "phone", "code": CODE_RE.search(message["template_params"]["text"]).group(1),
                                                  "csrf_token": token})
    db.session.expire_all()
    user = db.session.get(User, user.id)
    assert user.email == "self@example.org" and user.email_verified_at is not None
    assert user.phone_masked == "139****5678" and user.phone_verified_at is not None
    assert PHONE not in (user.phone_enc or "")
    assert "139****5678" in client.get("/account").get_data(as_text=True)
    assert password_reset.find_account(PHONE).id == user.id


def test_a_bad_address_is_refused_next_to_the_field(app, client, servers):
    person("self", email=None)
    login(client, "self")
    answer = client.post("/account/contact", data={"kind": "phone", "address": "12345",
                                                   "csrf_token": csrf_token(client, "/account")})
    assert answer.status_code == 400 and "is-invalid" in answer.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(OneTimeCode.id))) == 0


def test_must_change_password_after_a_manager_reset_even_with_the_old_password(app, client):
    user = person("forced")
    user.must_change_password = True
    db.session.commit()
    assert login(client, "forced").request.path == "/account/password"
    agency = factories.provider(ProviderKind.agency)
    factories.user("aadmin", Role.agency_admin, provider_id=agency.id, must_change_password=True)
    db.session.commit()
    other = app.test_client()
    login(other, "aadmin")
    assert other.get("/agency/orders").headers["Location"].endswith("/account/password")


def test_five_wrong_tries_void_a_verification_code(app, client, servers):
    emails, _sms = servers
    user = person("self", email=None)
    login(client, "self")
    token = csrf_token(client, "/account")
    client.post("/account/contact", data={"kind": "email", "address": "me@example.org", "csrf_token": token})
    (_to, _subject, body), = wait_for(emails)
    code = CODE_RE.search(body).group(1)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(5):
        answer = client.post("/account/contact/confirm", data={"kind": "email", "code": wrong, "csrf_token": token})
        assert answer.status_code == 400
    right = client.post("/account/contact/confirm", data={"kind": "email", "code": code, "csrf_token": token})
    assert right.status_code == 400
    db.session.expire_all()
    assert db.session.get(User, user.id).email_verified_at is None
