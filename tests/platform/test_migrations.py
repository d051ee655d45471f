"""The migrations build the schema from empty, and the schema they build agrees with the models."""
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from socialforce import create_app
from socialforce.platform.extensions import db
from tests.conftest import POSTGRES_URL, postgres_available


def assert_models_match(engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = compare_metadata(context, db.metadata)
    assert diffs == []


def test_session_database_matches_models(app):
    assert_models_match(db.engine)


def test_upgrade_from_empty_sqlite(tmp_path):
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'empty.db'}")
    with app.app_context():
        upgrade()
        assert "orders" in sa.inspect(db.engine).get_table_names()
        assert_models_match(db.engine)
        db.engine.dispose()


@pytest.mark.skipif(not postgres_available(), reason="PostgreSQL is not reachable at 127.0.0.1:5432")
def test_upgrade_from_empty_postgresql():
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text("DROP DATABASE IF EXISTS socialforce_migration_check"))
        conn.execute(sa.text("CREATE DATABASE socialforce_migration_check"))
    url = POSTGRES_URL.rsplit("/", 1)[0] + "/socialforce_migration_check"
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url)
    try:
        with app.app_context():
            upgrade()
            assert "orders" in sa.inspect(db.engine).get_table_names()
            assert_models_match(db.engine)
            db.engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text("DROP DATABASE IF EXISTS socialforce_migration_check"))
        admin.dispose()


@contextmanager
def seeded_demo(tmp_path):
    """A migrated SQLite database holding a tiny demo, inside its app context."""
    from socialforce.platform.seed import seed_demo

    app = create_app("testing", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'demo.db'}")
    with app.app_context():
        upgrade()
        seed_demo(0.001)
        db.session.commit()
        try:
            yield
        finally:
            db.session.remove()
            db.engine.dispose()


def test_impressions_backfill_keeps_every_ranked_order_as_a_list_of_one(tmp_path):
    with seeded_demo(tmp_path):
        ranked = set(db.session.execute(sa.text(
            "SELECT id, provider_id, rank FROM orders WHERE provider_id IS NOT NULL AND rank IS NOT NULL")).all())
        assert ranked
        db.session.remove()
        downgrade(revision="5e7a2c9d1b40")
        assert "impressions" not in sa.inspect(db.engine).get_table_names()
        upgrade()
        kept = set(db.session.execute(sa.text("SELECT order_id, provider_id, position FROM impressions")).all())
        assert kept == ranked


def test_verification_backfill_trusts_what_the_bureau_entered_and_not_what_volunteers_declared(tmp_path):
    with seeded_demo(tmp_path):
        db.session.remove()
        downgrade(revision="8f3b6d2a9c17")  # and back up: the backfill runs on the seeded rows
        upgrade()
        rows = db.session.execute(sa.text(
            "SELECT p.kind, q.code, q.verified_at IS NOT NULL FROM qualifications q "
            "JOIN providers p ON p.id = q.provider_id")).all()
        assert {kind for kind, _, _ in rows} == {"agency", "volunteer"}
        assert all(verified == (kind != "volunteer" or code == "background_check") for kind, code, verified in rows)
