"""calendar_feeds (secret iCalendar URLs, hashed) and hours_certificates (numbered, verifiable, revocable)

Revision ID: c16a4e8b2f31
Revises: 0a9e4c6d8f21
Create Date: 2026-12-06 07:30:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c16a4e8b2f31'
down_revision = '0a9e4c6d8f21'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'calendar_feeds',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('last_used_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_calendar_feeds_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_feeds')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_calendar_feeds_token_hash')),
        sa.UniqueConstraint('user_id', name=op.f('uq_calendar_feeds_user_id')),
    )
    op.create_table(
        'hours_certificates',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('number', sa.String(length=32), nullable=False),
        sa.Column('volunteer_id', sa.Integer(), nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=True),
        sa.Column('name_masked', sa.String(length=40), nullable=False),
        sa.Column('total_minutes', sa.Integer(), nullable=False),
        sa.Column('record_count', sa.Integer(), nullable=False),
        sa.Column('period_from', sa.Date(), nullable=False),
        sa.Column('period_to', sa.Date(), nullable=False),
        sa.Column('issued_at', sa.DateTime(), nullable=False),
        sa.Column('revoked_at', sa.DateTime(), nullable=True),
        sa.Column('revoked_by_id', sa.Integer(), nullable=True),
        sa.Column('revoke_reason', sa.String(length=200), nullable=True),
        sa.CheckConstraint('total_minutes >= 0', name=op.f('ck_hours_certificates_certificate_minutes')),
        sa.ForeignKeyConstraint(['revoked_by_id'], ['users.id'], name=op.f('fk_hours_certificates_revoked_by_id_users')),
        sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'],
                                name=op.f('fk_hours_certificates_volunteer_id_volunteers')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_hours_certificates')),
        sa.UniqueConstraint('fingerprint', name=op.f('uq_hours_certificates_fingerprint')),
        sa.UniqueConstraint('number', name=op.f('uq_hours_certificates_number')),
    )
    op.create_index(op.f('ix_hours_certificates_volunteer_id'), 'hours_certificates', ['volunteer_id'])


def downgrade():
    op.drop_index(op.f('ix_hours_certificates_volunteer_id'), table_name='hours_certificates')
    op.drop_table('hours_certificates')
    op.drop_table('calendar_feeds')
