"""impressions: every candidate shown in the ranked list an order was dispatched from

Backfills one impression per existing ranked order (its own candidate, at its logged position), so no logged
outcome is lost; lists shown before this revision were not kept in full.

Revision ID: 8f3b6d2a9c17
Revises: 5e7a2c9d1b40
Create Date: 2026-11-29 12:30:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '8f3b6d2a9c17'
down_revision = '5e7a2c9d1b40'
branch_labels = None
depends_on = None

FEATURES = ("text", "distance", "pairing", "continuity", "track_record", "priority", "load")
BATCH = 5000


def upgrade():
    impressions = op.create_table(
        'impressions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('order_id', sa.Integer(), nullable=False),
        sa.Column('provider_id', sa.Integer(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('score', sa.Float(), nullable=False),
        sa.Column('features', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_impressions_order_id_orders')),
        sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], name=op.f('fk_impressions_provider_id_providers')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_impressions')),
    )
    op.create_index(op.f('ix_impressions_order_id'), 'impressions', ['order_id'], unique=False)
    orders = sa.table('orders', sa.column('id'), sa.column('provider_id'), sa.column('rank'), sa.column('score'),
                      sa.column('reasons', sa.JSON))
    rows = op.get_bind().execute(
        sa.select(orders.c.id, orders.c.provider_id, orders.c.rank, orders.c.score, orders.c.reasons)
        .where(orders.c.provider_id.is_not(None), orders.c.rank.is_not(None)).order_by(orders.c.id))
    batch = []
    for order_id, provider_id, rank, score, reasons in rows:
        values = {r["feature"]: r["value"] for r in (reasons or {}).get("reasons", [])}
        if all(f in values for f in FEATURES):
            batch.append({"order_id": order_id, "provider_id": provider_id, "position": rank, "score": score or 0.0,
                          "features": [values[f] for f in FEATURES]})
        if len(batch) >= BATCH:
            op.bulk_insert(impressions, batch)
            batch = []
    if batch:
        op.bulk_insert(impressions, batch)


def downgrade():
    op.drop_index(op.f('ix_impressions_order_id'), table_name='impressions')
    op.drop_table('impressions')
