"""pairing units carry their unified social credit code (the key an organisations import matches them by)

Revision ID: h15a0c0de001
Revises: a18c0ffee001
Create Date: 2026-12-06 16:00:00

A nullable column and a unique index (several NULLs are allowed on SQLite and PostgreSQL alike), so units
registered through the pages without a code stay valid.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'h15a0c0de001'
down_revision = 'a18c0ffee001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("pairing_units") as batch:
        batch.add_column(sa.Column("credit_code", sa.String(18), nullable=True))
    op.create_index("uq_pairing_units_credit_code", "pairing_units", ["credit_code"], unique=True)


def downgrade():
    op.drop_index("uq_pairing_units_credit_code", table_name="pairing_units")
    with op.batch_alter_table("pairing_units") as batch:
        batch.drop_column("credit_code")
