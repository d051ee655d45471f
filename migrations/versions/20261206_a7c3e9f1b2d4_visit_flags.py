"""visits.flags: why a recorded visit looks implausible (a very short stay, a check-in far from the planned time or
from the village); flagged service records are confirmed one at a time, never in bulk

Existing visits keep NULL (not flagged): their check-ins were accepted before the rule existed.

Revision ID: a7c3e9f1b2d4
Revises: d2c8e1f4a6b9
Create Date: 2026-12-06 04:40:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'a7c3e9f1b2d4'
down_revision = 'd2c8e1f4a6b9'
branch_labels = None
depends_on = None


# Plain ALTER TABLE (SQLite adds and, since 3.35, drops a column in place): a batch copy of `visits` would fail on
# SQLite while service_records and others reference its rows.
def upgrade():
    op.add_column('visits', sa.Column('flags', sa.String(length=60), nullable=True))


def downgrade():
    op.drop_column('visits', 'flags')
