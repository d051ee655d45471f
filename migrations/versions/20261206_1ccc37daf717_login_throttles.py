"""login_throttles: password checks reserved per account at an address and per address (atomic login limit)

Revision ID: 1ccc37daf717
Revises: 7c3f9a1e5b20
Create Date: 2026-12-06 04:40:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '1ccc37daf717'
down_revision = '7c3f9a1e5b20'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'login_throttles',
        sa.Column('scope', sa.String(length=10), nullable=False),
        sa.Column('subject', sa.String(length=64), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('window_start', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('scope', 'subject', name=op.f('pk_login_throttles')),
    )


def downgrade():
    op.drop_table('login_throttles')
