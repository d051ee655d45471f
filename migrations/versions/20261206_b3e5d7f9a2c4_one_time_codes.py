"""one_time_codes (set-password links and codes, reset and verification codes) and users.phone_hash

Revision ID: b3e5d7f9a2c4
Revises: c16a4e8b2f31
Create Date: 2026-12-06 07:30:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'b3e5d7f9a2c4'
down_revision = 'c16a4e8b2f31'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'one_time_codes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('purpose', sa.String(length=12), nullable=False),
        sa.Column('secret_hash', sa.String(length=64), nullable=False),
        sa.Column('target_enc', sa.Text(), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.Column('used_at', sa.DateTime(), nullable=True),
        sa.Column('voided_at', sa.DateTime(), nullable=True),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_one_time_codes_user_id_users')),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_one_time_codes_created_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_one_time_codes')),
    )
    op.create_index('ix_one_time_codes_user_purpose', 'one_time_codes', ['user_id', 'purpose'])
    op.create_index(op.f('ix_one_time_codes_secret_hash'), 'one_time_codes', ['secret_hash'])
    # plain ALTER TABLE: a batch copy of `users` would fail on SQLite while other tables reference its rows
    op.add_column('users', sa.Column('phone_hash', sa.String(length=64), nullable=True))
    op.create_index(op.f('ix_users_phone_hash'), 'users', ['phone_hash'])


def downgrade():
    op.drop_index(op.f('ix_users_phone_hash'), table_name='users')
    op.drop_column('users', 'phone_hash')
    op.drop_index(op.f('ix_one_time_codes_secret_hash'), table_name='one_time_codes')
    op.drop_index('ix_one_time_codes_user_purpose', table_name='one_time_codes')
    op.drop_table('one_time_codes')
