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


def test_existing_ratings_become_the_evaluators_assessment_and_no_household_rating_is_invented(app):
    """On the session's database (SQLite or PostgreSQL): down to the old column and back up with rows in it."""
    from socialforce.platform.models import EvaluationSource
    from socialforce.platform.services import outcomes
    from tests.platform.test_outcomes import GOOD, served_order
    from tests.platform.test_visits import NOW

    order, user = served_order()
    outcomes.record_outcome(order, EvaluationSource.provider, GOOD, user, NOW)
    order_id = order.id
    db.session.commit()
    db.session.remove()
    downgrade(revision="a7c3e9f1b2d4")  # the revision before household_feedback
    try:
        db.session.execute(sa.text("INSERT INTO outcomes (order_id, source, resolved, goal_attainment, satisfaction, "
                                   "recorded_at) VALUES (:o, 'assistant', 'partly', 0, 2, :at)"),
                           {"o": order_id, "at": NOW})
        db.session.commit()
        old = set(db.session.execute(sa.text("SELECT source, satisfaction FROM outcomes")).tuples())
        assert old == {("provider", 5), ("assistant", 2)}
        db.session.remove()
    finally:
        upgrade()
    assert set(db.session.execute(sa.text("SELECT source, assessment FROM outcomes")).tuples()) == old
    assert db.session.scalar(sa.text("SELECT count(*) FROM household_feedback")) == 0
    assert_models_match(db.engine)
    with pytest.raises(sa.exc.IntegrityError):  # the 1-5 check moved with the column
        db.session.execute(sa.text("UPDATE outcomes SET assessment = 9"))
        db.session.flush()
    db.session.rollback()


def test_every_existing_item_and_order_gets_its_households_county(demo, app):
    """On the session's database: down to before orders.county_id and service_items.county_id and back up with the
    demo's items and orders in it (PostgreSQL drops the columns and fills them again; SQLite cannot drop them and
    keeps them, filled)."""
    db.session.remove()
    downgrade(revision="i22b0a1c0a001")
    for table in ("orders", "service_items"):
        columns = {c["name"] for c in sa.inspect(db.engine).get_columns(table)}
        assert ("county_id" in columns) == (db.engine.dialect.name == "sqlite")
    upgrade()
    rows = db.session.execute(sa.text(
        "SELECT o.county_id, t.county_id FROM orders o JOIN service_items i ON i.id = o.item_id "
        "JOIN households h ON h.id = i.household_id JOIN towns t ON t.id = h.town_id")).all()
    assert len(rows) > 10 and all(mine == households for mine, households in rows)
    rows = db.session.execute(sa.text(
        "SELECT i.county_id, t.county_id FROM service_items i "
        "JOIN households h ON h.id = i.household_id JOIN towns t ON t.id = h.town_id")).all()
    assert len(rows) > 10 and all(mine == households for mine, households in rows)
