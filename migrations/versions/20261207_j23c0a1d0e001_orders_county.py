"""orders.county_id: an order's county (its household's), indexed with the id and with the state

Revision ID: j23c0a1d0e001
Revises: i22b0a1c0a001
Create Date: 2026-12-07 20:20:00

A county's orders board walked the orders' primary key backwards, joining each order to its item, household and
town, until 25 of the county's turned up: past every newer order of the other counties (22,161 of them for the
first of three counties at scale 0.3, 120 ms on PostgreSQL). With the county on the order the board reads its 25
rows from (county_id, id), and its counts per state from (county_id, state).

On SQLite the column is added with its foreign key in one ALTER TABLE, filled, and made NOT NULL by editing the
table's CREATE text (SQLite's writable_schema procedure, as in h20c0c0de001). SQLite cannot drop a column in a
foreign key, so a downgrade there drops the indexes and keeps the column; the upgrade then fills what is empty.
"""
import re

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'j23c0a1d0e001'
down_revision = 'i22b0a1c0a001'
branch_labels = None
depends_on = None

BACKFILL = """
UPDATE orders SET county_id = (
    SELECT t.county_id FROM service_items i JOIN households h ON h.id = i.household_id JOIN towns t ON t.id = h.town_id
    WHERE i.id = orders.item_id)
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
    if 'county_id' not in {c['name'] for c in sa.inspect(bind).get_columns('orders')}:
        if sqlite:
            op.execute("ALTER TABLE orders ADD COLUMN county_id INTEGER "
                       "CONSTRAINT fk_orders_county_id_counties REFERENCES counties (id)")
        else:
            op.add_column('orders', sa.Column('county_id', sa.Integer(), sa.ForeignKey(
                'counties.id', name='fk_orders_county_id_counties'), nullable=True))
    op.execute(BACKFILL)
    if sqlite:
        _sqlite_not_null('orders', 'county_id')
    else:
        op.alter_column('orders', 'county_id', existing_type=sa.Integer(), nullable=False)
    op.create_index('ix_orders_county_id_id', 'orders', ['county_id', 'id'])
    op.create_index('ix_orders_county_id_state', 'orders', ['county_id', 'state'])


def downgrade():
    op.drop_index('ix_orders_county_id_state', table_name='orders')
    op.drop_index('ix_orders_county_id_id', table_name='orders')
    if op.get_bind().dialect.name != 'sqlite':
        op.drop_constraint('fk_orders_county_id_counties', 'orders', type_='foreignkey')
        op.drop_column('orders', 'county_id')
