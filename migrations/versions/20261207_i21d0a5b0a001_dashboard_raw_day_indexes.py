"""Indexes for the dashboard's raw days: items by registration and closing time, visits by check-in, follow-ups
by recording time, service records by the day served

Revision ID: i21d0a5b0a001
Revises: i20a0b1c2d001
Create Date: 2026-12-07 03:40:00

The dashboard reads today (and stale days) from raw rows; without these, each such figure scanned its whole
table (100,771 items: 19 ms per query at scale 1.0 on PostgreSQL, four queries per uncached view).
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'i21d0a5b0a001'
down_revision = 'i20a0b1c2d001'
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_service_items_created_at", "service_items", "created_at"),
    ("ix_service_items_closed_at", "service_items", "closed_at"),
    ("ix_visits_checkin_at", "visits", "checkin_at"),
    ("ix_household_feedback_recorded_at", "household_feedback", "recorded_at"),
    ("ix_service_records_served_on", "service_records", "served_on"),
)


def upgrade():
    for name, table, column in INDEXES:
        op.create_index(name, table, [column])


def downgrade():
    for name, table, _column in reversed(INDEXES):
        op.drop_index(name, table_name=table)
