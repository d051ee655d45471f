"""partner clients (api_clients, api_client_tokens), updated_at on the synchronised tables, webhook outbox rows

Revision ID: h18a0c1e0001
Revises: h19b0a66e001
Create Date: 2026-12-06 16:10:00

`updated_at` is added NOT NULL with a constant server default (SQLite's ALTER TABLE ADD COLUMN needs one, and a
batch copy of `households` or `orders`, referenced by most tables, is avoided), then filled from the row's own
times; PostgreSQL drops the server default afterwards, SQLite keeps it (the ORM always sets the value).
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'h18a0c1e0001'
down_revision = 'h19b0a66e001'
branch_labels = None
depends_on = None

EPOCH = '1970-01-01 00:00:00'
BACKFILL = {  # table -> the row's latest known time
    'households': 'created_at',
    'service_items': 'COALESCE(closed_at, created_at)',
    'orders': 'COALESCE(completed_at, responded_at, dispatched_at, created_at)',
    'visits': 'COALESCE(checkout_at, checkin_at, (SELECT o.created_at FROM orders o WHERE o.id = visits.order_id))',
    'outcomes': 'recorded_at',
    'household_feedback': 'recorded_at',
}


def upgrade():
    postgres = op.get_bind().dialect.name == 'postgresql'
    for table, source in BACKFILL.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('updated_at', sa.DateTime(), nullable=False,
                                          server_default=EPOCH))
        op.execute(f"UPDATE {table} SET updated_at = {source}")
        if postgres:
            op.alter_column(table, 'updated_at', server_default=None, existing_type=sa.DateTime(),
                            existing_nullable=False)
        op.create_index(f'ix_{table}_updated_at_id', table, ['updated_at', 'id'], unique=False)

    op.create_table(
        'api_clients',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=80), nullable=False),
        sa.Column('client_id', sa.String(length=40), nullable=False),
        sa.Column('secret_hash', sa.String(length=64), nullable=False),
        sa.Column('scopes', sa.String(length=200), nullable=False),
        sa.Column('town_ids', sa.JSON(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.Column('revoked_at', sa.DateTime(), nullable=True),
        sa.Column('last_used_at', sa.DateTime(), nullable=True),
        sa.Column('webhook_url', sa.String(length=300), nullable=True),
        sa.Column('webhook_secret_enc', sa.Text(), nullable=True),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_api_clients_created_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_api_clients')),
        sa.UniqueConstraint('client_id', name=op.f('uq_api_clients_client_id')),
    )
    op.create_table(
        'api_client_tokens',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('client_id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['client_id'], ['api_clients.id'],
                                name=op.f('fk_api_client_tokens_client_id_api_clients')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_api_client_tokens')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_api_client_tokens_token_hash')),
    )
    op.create_index(op.f('ix_api_client_tokens_client_id'), 'api_client_tokens', ['client_id'], unique=False)
    op.create_index(op.f('ix_api_client_tokens_expires_at'), 'api_client_tokens', ['expires_at'], unique=False)
    # The outbox is referenced by no other table, so SQLite's batch copy is safe here.
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.alter_column('notification_id', existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column('api_client_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('payload', sa.JSON(), nullable=True))
        batch_op.create_foreign_key(op.f('fk_outbox_api_client_id_api_clients'), 'api_clients',
                                    ['api_client_id'], ['id'])


def downgrade():
    op.execute("DELETE FROM outbox WHERE notification_id IS NULL")  # webhook deliveries have no place before this
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('fk_outbox_api_client_id_api_clients'), type_='foreignkey')
        batch_op.drop_column('payload')
        batch_op.drop_column('api_client_id')
        batch_op.alter_column('notification_id', existing_type=sa.Integer(), nullable=False)
    op.drop_index(op.f('ix_api_client_tokens_expires_at'), table_name='api_client_tokens')
    op.drop_index(op.f('ix_api_client_tokens_client_id'), table_name='api_client_tokens')
    op.drop_table('api_client_tokens')
    op.drop_table('api_clients')
    for table in reversed(BACKFILL):
        op.drop_index(f'ix_{table}_updated_at_id', table_name=table)
        # SQLite >= 3.35 drops a column in place (no copy of a table that others reference)
        op.execute(f"ALTER TABLE {table} DROP COLUMN updated_at")
