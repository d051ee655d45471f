"""drop volunteers.service_minutes

Confirmed service minutes are always summed from service_records (services/hours.py); the stored total was a
second copy that nothing kept up to date.

Revision ID: 5e7a2c9d1b40
Revises: c4d1e8a2f7b3
Create Date: 2026-11-29 11:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '5e7a2c9d1b40'
down_revision = 'c4d1e8a2f7b3'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('volunteers') as batch_op:
        batch_op.drop_column('service_minutes')


def downgrade():
    with op.batch_alter_table('volunteers') as batch_op:
        batch_op.add_column(sa.Column('service_minutes', sa.Integer(), nullable=False, server_default='0'))
