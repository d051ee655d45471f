"""notifications: idempotency key, sent time and digest key per outbox message, a `dropped` status, and each
user's channel choices and quiet hours

Revision ID: b3d91f6c2a87
Revises: b3d5f7a9c1e2
Create Date: 2026-12-06 07:40:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'b3d91f6c2a87'
down_revision = 'b3d5f7a9c1e2'
branch_labels = None
depends_on = None


OLD_STATUS = sa.Enum('pending', 'sent', 'failed', name='outboxstatus', native_enum=False, create_constraint=True)
NEW_STATUS = sa.Enum('pending', 'sent', 'failed', 'dropped', name='outboxstatus', native_enum=False,
                     create_constraint=True)
COLUMNS = (
    sa.Column('idempotency_key', sa.String(length=64), nullable=True),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.Column('digest_key', sa.String(length=64), nullable=True),
)


def upgrade():
    # The outbox is referenced by no other table, so SQLite's batch copy (needed to change a CHECK) is safe here.
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        for column in COLUMNS:
            batch_op.add_column(column)
        batch_op.create_unique_constraint('uq_outbox_idempotency_key', ['idempotency_key'])
        batch_op.alter_column('status', existing_type=OLD_STATUS, type_=NEW_STATUS, existing_nullable=False)
    op.execute("UPDATE outbox SET idempotency_key = 'outbox-' || id WHERE idempotency_key IS NULL")
    op.create_table(
        'notification_settings',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('email_kinds', sa.JSON(), nullable=False),
        sa.Column('sms_kinds', sa.JSON(), nullable=False),
        sa.Column('quiet_start', sa.Integer(), nullable=True),
        sa.Column('quiet_end', sa.Integer(), nullable=True),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint('quiet_start BETWEEN 0 AND 1439 AND quiet_end BETWEEN 0 AND 1439 '
                           'AND quiet_start <> quiet_end', name='quiet_window'),
        sa.CheckConstraint('(quiet_start IS NULL) = (quiet_end IS NULL)', name='quiet_both'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id']),
        sa.PrimaryKeyConstraint('user_id'),
    )


def downgrade():
    op.drop_table('notification_settings')
    op.execute("DELETE FROM outbox WHERE status = 'dropped'")
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.alter_column('status', existing_type=NEW_STATUS, type_=OLD_STATUS, existing_nullable=False)
        batch_op.drop_constraint('uq_outbox_idempotency_key', type_='unique')
        for column in reversed(COLUMNS):
            batch_op.drop_column(column.name)
