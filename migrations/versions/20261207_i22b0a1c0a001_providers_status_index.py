"""Providers by status and county: the staff home's count of providers awaiting review

Revision ID: i22b0a1c0a001
Revises: i21d0a5b0a001
Create Date: 2026-12-07 15:20:00

Without it the count scanned every provider (233,706 at three counties of scale 0.3: 56 ms per staff home on
PostgreSQL); the pending ones are a few per cent.
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'i22b0a1c0a001'
down_revision = 'i21d0a5b0a001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_providers_status_county_id", "providers", ["status", "county_id"])


def downgrade():
    op.drop_index("ix_providers_status_county_id", table_name="providers")
