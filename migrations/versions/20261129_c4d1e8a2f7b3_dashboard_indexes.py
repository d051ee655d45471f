"""dashboard indexes

Covering indexes for the staff dashboard's aggregates (issue 7) and audit_log(action, at) for login throttling.

Revision ID: c4d1e8a2f7b3
Revises: 9b81a5457374
Create Date: 2026-11-29 09:45:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c4d1e8a2f7b3'
down_revision = '9b81a5457374'
branch_labels = None
depends_on = None

INDEXES = [
    ('service_items', 'ix_service_items_household_status',
     ['household_id', 'status', 'created_at', 'closed_at', 'category_id']),
    ('service_items', 'ix_service_items_category_status',
     ['category_id', 'status', 'created_at', 'closed_at', 'household_id']),
    ('orders', 'ix_orders_item_dispatched', ['item_id', 'dispatched_at']),
    ('orders', 'ix_orders_dispatched', ['dispatched_at', 'item_id', 'provider_id', 'state', 'responded_at']),
    ('visits', 'ix_visits_order_status', ['order_id', 'status', 'checkin_at', 'starts_at']),
    ('audit_log', 'ix_audit_log_action_at', ['action', 'at']),
]


def upgrade():
    for table, name, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade():
    for table, name, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
