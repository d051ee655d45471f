"""dashboard_aggregates: daily and monthly pre-aggregates of the dashboard, stale days and coverage

Revision ID: h19b0a66e001
Revises: h15a0c0de001
Create Date: 2026-12-06 16:05:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'h19b0a66e001'
down_revision = 'h15a0c0de001'
branch_labels = None
depends_on = None


def _aggregate_table(name: str, period: str) -> None:
    op.create_table(
        name,
        sa.Column(period, sa.Date(), nullable=False),
        sa.Column('measure', sa.String(length=24), nullable=False),
        sa.Column('town_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('category_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('key', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('n', sa.BigInteger(), nullable=False),
        sa.Column('total', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(period, 'measure', 'town_id', 'category_id', 'key', name=op.f(f'pk_{name}')),
    )


def upgrade():
    _aggregate_table('dashboard_daily', 'day')
    _aggregate_table('dashboard_monthly', 'month')
    op.create_table(
        'dashboard_stale_days',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('generation', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('day', name=op.f('pk_dashboard_stale_days')),
    )
    op.create_table(
        'dashboard_coverage',
        sa.Column('name', sa.String(length=20), nullable=False),
        sa.Column('first_day', sa.Date(), nullable=False),
        sa.Column('last_day', sa.Date(), nullable=False),
        sa.Column('refreshed_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_dashboard_coverage')),
    )


def downgrade():
    op.drop_table('dashboard_coverage')
    op.drop_table('dashboard_stale_days')
    op.drop_table('dashboard_monthly')
    op.drop_table('dashboard_daily')
