"""background_jobs: long work run by the task queue's worker (kind, owner, state, progress, result)

Revision ID: b3d5f7a9c1e2
Revises: 5e0c2b7d9a11
Create Date: 2026-12-06 07:20:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'b3d5f7a9c1e2'
down_revision = '5e0c2b7d9a11'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'background_jobs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=40), nullable=False),
        sa.Column('owner_id', sa.Integer(), nullable=True),
        sa.Column('subject', sa.String(length=64), nullable=True),
        sa.Column('params', sa.JSON(), nullable=False),
        sa.Column('state', sa.Enum('queued', 'running', 'done', 'failed', name='jobstate', native_enum=False,
                                   create_constraint=True), nullable=False),
        sa.Column('phase', sa.String(length=40), nullable=False),
        sa.Column('done', sa.Integer(), nullable=False),
        sa.Column('total', sa.Integer(), nullable=False),
        sa.Column('result', sa.JSON(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('worker', sa.String(length=100), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('started_at', sa.DateTime(), nullable=True),
        sa.Column('finished_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_background_jobs_owner_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_background_jobs')),
    )
    op.create_index('ix_background_jobs_owner_id_id', 'background_jobs', ['owner_id', 'id'], unique=False)
    op.create_index('ix_background_jobs_state', 'background_jobs', ['state'], unique=False)
    op.create_index('ix_background_jobs_subject', 'background_jobs', ['subject'], unique=False)


def downgrade():
    op.drop_index('ix_background_jobs_subject', table_name='background_jobs')
    op.drop_index('ix_background_jobs_state', table_name='background_jobs')
    op.drop_index('ix_background_jobs_owner_id_id', table_name='background_jobs')
    op.drop_table('background_jobs')
