"""service_items.county_id: an item's county (its household's), indexed with the id and with the status

Revision ID: k24a0c0de001
Revises: j23c0a1d0e001
Create Date: 2026-12-07 23:20:00

A county staff user's home counted the county's open items and listed its newest through the households of the
county's towns: a join of every item to its household (20-26 ms each on PostgreSQL for the first of three counties
at scale 0.3). With the county on the item, as on the order (j23c0a1d0e001), the count reads (county_id, status)
and the newest items (county_id, id).

On SQLite the column is added with its foreign key in one ALTER TABLE, filled, and made NOT NULL by editing the
table's CREATE text (SQLite's writable_schema procedure, as in j23c0a1d0e001). SQLite cannot drop a column in a
foreign key, so a downgrade there drops the indexes and keeps the column; the upgrade then fills what is empty.
"""
import re

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'k24a0c0de001'
down_revision = 'j23c0a1d0e001'
branch_labels = None
depends_on = None

BACKFILL = """
UPDATE service_items SET county_id = (
    SELECT t.county_id FROM households h JOIN towns t ON t.id = h.town_id WHERE h.id = service_items.household_id)
WHERE county_id IS NULL
"""


def _sqlite_not_null(table: str, column: str) -> None:
    bind = op.get_bind()
    sql = bind.execute(sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t"), {"t": table}).scalar()
    edited = re.sub(rf"\b{column} INTEGER\b(?! NOT NULL)", f"{column} INTEGER NOT NULL", sql, count=1)
    if edited == sql:
        return
    version = bind.execute(sa.text("PRAGMA schema_version")).scalar()
    bind.execute(sa.text("PRAGMA writable_schema = ON"))
    bind.execute(sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = :t"),
                 {"sql": edited, "t": table})
    bind.execute(sa.text(f"PRAGMA schema_version = {int(version) + 1}"))
    bind.execute(sa.text("PRAGMA writable_schema = OFF"))


def upgrade():
    bind = op.get_bind()
    sqlite = bind.dialect.name == 'sqlite'
    if 'county_id' not in {c['name'] for c in sa.inspect(bind).get_columns('service_items')}:
        if sqlite:
            op.execute("ALTER TABLE service_items ADD COLUMN county_id INTEGER "
                       "CONSTRAINT fk_service_items_county_id_counties REFERENCES counties (id)")
        else:
            op.add_column('service_items', sa.Column('county_id', sa.Integer(), sa.ForeignKey(
                'counties.id', name='fk_service_items_county_id_counties'), nullable=True))
    op.execute(BACKFILL)
    if sqlite:
        _sqlite_not_null('service_items', 'county_id')
    else:
        op.alter_column('service_items', 'county_id', existing_type=sa.Integer(), nullable=False)
    op.create_index('ix_service_items_county_id_id', 'service_items', ['county_id', 'id'])
    op.create_index('ix_service_items_county_id_status', 'service_items', ['county_id', 'status'])


def downgrade():
    op.drop_index('ix_service_items_county_id_status', table_name='service_items')
    op.drop_index('ix_service_items_county_id_id', table_name='service_items')
    if op.get_bind().dialect.name != 'sqlite':
        op.drop_constraint('fk_service_items_county_id_counties', 'service_items', type_='foreignkey')
        op.drop_column('service_items', 'county_id')
