"""The data migration that re-normalises stored resident IDs, on the suite's database (SQLite or PostgreSQL)."""
from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations

from socialforce.platform import crypto, idnumber
from socialforce.platform.extensions import db
from socialforce.platform.models import Member, Volunteer
from tests import factories

MIGRATION = Path(__file__).parents[2] / "migrations/versions/20261206_7c3f9a1e5b20_canonical_id_numbers.py"


def run_migration() -> None:
    spec = importlib.util.spec_from_file_location("canonical_id_numbers", MIGRATION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with db.engine.begin() as conn, Operations.context(MigrationContext.configure(conn)):
        module.upgrade()


def store_as_typed(row, number: str) -> None:
    """What the old code stored for an ID typed in full-width digits: that spelling, encrypted and hashed."""
    wide = "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in number)
    row.id_number_enc, row.id_number_hash = crypto.encrypt(wide), crypto.lookup_hash(wide)
    row.id_masked = idnumber.mask(wide)
    if isinstance(row, Member):
        row.id_suffix = wide[-4:]


def test_stored_ids_become_canonical_and_duplicates_are_reported_not_merged(app, caplog):
    household = factories.household(members=3)
    alone, twin, original = sorted(household.members, key=lambda m: m.id)
    numbers = {m.id: crypto.decrypt(m.id_number_enc) for m in household.members}
    store_as_typed(alone, numbers[alone.id])
    store_as_typed(twin, numbers[original.id])  # the same person as `original`, registered a second time
    volunteer = factories.volunteer()
    volunteer_number = crypto.decrypt(volunteer.id_number_enc)
    store_as_typed(volunteer, volunteer_number)
    db.session.commit()
    twin_before = db.session.execute(sa.select(Member.id_number_enc, Member.id_number_hash)
                                     .where(Member.id == twin.id)).one()
    with caplog.at_level(logging.WARNING, logger="alembic.runtime.migration"):
        run_migration()
    db.session.expire_all()
    fixed = db.session.get(Member, alone.id)
    assert crypto.decrypt(fixed.id_number_enc) == numbers[alone.id]
    assert fixed.id_number_hash == crypto.id_number_hash(numbers[alone.id])
    assert (fixed.id_masked, fixed.id_suffix) == (idnumber.mask(numbers[alone.id]), numbers[alone.id][-4:])
    v = db.session.get(Volunteer, volunteer.id)
    assert crypto.decrypt(v.id_number_enc) == volunteer_number
    assert v.id_number_hash == crypto.id_number_hash(volunteer_number)
    kept = db.session.get(Member, twin.id)
    assert (kept.id_number_enc, kept.id_number_hash) == tuple(twin_before)
    assert db.session.get(Member, original.id).id_number_hash == crypto.id_number_hash(numbers[original.id])
    report = caplog.text
    assert "members: 1 stored ID number" in report and idnumber.mask(numbers[original.id]) in report
    assert not any(number in report for number in [*numbers.values(), volunteer_number])


def test_a_second_run_changes_nothing(app, caplog):
    household = factories.household(members=2)
    db.session.commit()
    before = db.session.execute(sa.select(Member.id, Member.id_number_enc).where(
        Member.household_id == household.id).order_by(Member.id)).all()
    with caplog.at_level(logging.WARNING, logger="alembic.runtime.migration"):
        run_migration()
    after = db.session.execute(sa.select(Member.id, Member.id_number_enc).where(
        Member.household_id == household.id).order_by(Member.id)).all()
    assert after == before and "members:" not in caplog.text
