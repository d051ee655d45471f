"""Personal data: resident IDs and phones encrypted at rest (raw rows), masked on pages, one audit record per reveal,
and a dump of the whole database holds no plaintext ID or phone."""
from __future__ import annotations

import sqlalchemy as sa

from socialforce.platform import crypto
from socialforce.platform.extensions import db
from socialforce.platform.models import AuditLog, Household, Member
from tests.conftest import IsolatedClient, csrf_token, login
from tests.security.support import leaks, personal_secrets

ENCRYPTED = {"members": ("id_number_enc", "id_masked"), "volunteers": ("id_number_enc", "id_masked"),
             "households": ("phone_enc", "phone_masked"),
             "agencies": ("contact_phone_enc", "contact_phone_masked")}


def database_dump() -> str:
    """Every row as text: SQLite's iterdump, or every text column of every table on PostgreSQL."""
    connection = db.session.connection()
    if connection.dialect.name == "sqlite":
        raw = connection.connection.driver_connection
        return "\n".join(raw.iterdump())
    parts = []
    for table in db.metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, (sa.String, sa.Text, sa.JSON))]
        if columns:
            casts = [sa.cast(c, sa.Text) for c in columns]
            parts += ["\t".join(str(v) for v in row) for row in connection.execute(sa.select(*casts))]
    return "\n".join(parts)


def test_raw_rows_hold_ciphertext_and_masks_only(demo):
    for table, (cipher, mask) in ENCRYPTED.items():
        rows = db.session.execute(sa.text(f"SELECT {cipher}, {mask} FROM {table} WHERE {cipher} IS NOT NULL")).all()  # noqa: S608
        assert rows, table
        for stored, masked in rows:
            plain = crypto.decrypt(stored)
            assert plain not in stored and stored.startswith("gAAAA")  # a Fernet token
            assert "*" in masked and masked != plain


def test_the_database_dump_has_no_plaintext_personal_data(demo):
    found = personal_secrets()
    assert len(found) > 50
    assert leaks(database_dump(), found) == []


def test_a_reveal_writes_exactly_one_audit_record_and_is_not_cached(demo, app):
    app.test_client_class = IsolatedClient
    client = app.test_client()
    login(client, "town1")
    member = db.session.scalar(sa.select(Member).join(Household).where(Household.town_id == _town_of("town1"))
                               .order_by(Member.id))
    page = f"/staff/households/{member.household_id}"
    assert crypto.decrypt(member.id_number_enc) not in client.get(page).get_data(as_text=True)
    response = client.post(f"/staff/members/{member.id}/reveal",
                           data={"csrf_token": csrf_token(client, page), "purpose": "核对低保申请"})
    assert response.status_code == 200
    assert crypto.decrypt(member.id_number_enc) in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    records = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "reveal_id_number")).all()
    assert len(records) == 1
    record = records[0]
    assert record.user.username == "town1" and record.ip == "127.0.0.1" and record.at is not None
    assert record.object_id == member.id and record.detail["household_id"] == member.household_id
    assert record.detail["purpose"] == "核对低保申请"
    assert crypto.decrypt(member.id_number_enc) not in str(record.detail)


def test_a_reveal_without_purpose_reveals_nothing_and_is_not_audited(demo, app):
    app.test_client_class = IsolatedClient
    client = app.test_client()
    login(client, "city")
    member = db.session.scalar(sa.select(Member).order_by(Member.id))
    page = f"/staff/households/{member.household_id}"
    response = client.post(f"/staff/members/{member.id}/reveal", data={"csrf_token": csrf_token(client, page)})
    assert response.status_code == 400
    assert crypto.decrypt(member.id_number_enc) not in response.get_data(as_text=True)
    assert not db.session.scalar(sa.select(sa.func.count(AuditLog.id)).where(AuditLog.action == "reveal_id_number"))


def _town_of(username: str) -> int:
    return db.session.scalar(sa.text("SELECT town_id FROM users WHERE username = :u"), {"u": username})
