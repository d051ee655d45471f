"""users: own e-mail and phone with verification times, and must_change_password after a reset

Revision ID: 5e0c2b7d9a11
Revises: 1ccc37daf717
Create Date: 2026-12-06 07:15:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '5e0c2b7d9a11'
down_revision = '1ccc37daf717'
branch_labels = None
depends_on = None


COLUMNS = (
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('email_verified_at', sa.DateTime(), nullable=True),
    sa.Column('phone_enc', sa.Text(), nullable=True),
    sa.Column('phone_masked', sa.String(length=20), nullable=True),
    sa.Column('phone_verified_at', sa.DateTime(), nullable=True),
    sa.Column('must_change_password', sa.Boolean(), nullable=False, server_default=sa.false()),
)


# Plain ALTER TABLE (SQLite adds and, since 3.35, drops a column in place): a batch copy of `users` would fail on
# SQLite while every other table references its rows.
def upgrade():
    for column in COLUMNS:
        op.add_column('users', column)


def downgrade():
    for column in reversed(COLUMNS):
        op.drop_column('users', column.name)
