"""volunteer tasks: what to bring, a waitlist per task; volunteers: the reason a registration was turned down

Revision ID: b4e1d7a9c3f2
Revises: 5e0c2b7d9a11
Create Date: 2026-12-06 07:30:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'b4e1d7a9c3f2'
down_revision = '5e0c2b7d9a11'
branch_labels = None
depends_on = None

STATES = ('waiting', 'offered', 'confirmed', 'expired', 'left')


# Plain ALTER TABLE ADD COLUMN: a batch copy of volunteer_tasks or volunteers would fail on SQLite while other
# tables reference their rows.
def upgrade():
    op.add_column('volunteer_tasks', sa.Column('bring', sa.String(length=200), nullable=True))
    op.add_column('volunteers', sa.Column('rejection_reason', sa.String(length=200), nullable=True))
    op.create_table(
        'task_waitlist',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('task_id', sa.Integer(), nullable=False),
        sa.Column('volunteer_id', sa.Integer(), nullable=False),
        sa.Column('state', sa.Enum(*STATES, name='waitliststate', native_enum=False, create_constraint=True,
                                   length=9), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('offered_at', sa.DateTime(), nullable=True),
        sa.Column('offer_expires_at', sa.DateTime(), nullable=True),
        sa.Column('decided_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['task_id'], ['volunteer_tasks.id'], name=op.f('fk_task_waitlist_task_id_volunteer_tasks')),
        sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers.id'],
                                name=op.f('fk_task_waitlist_volunteer_id_volunteers')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_task_waitlist')),
        sa.UniqueConstraint('task_id', 'volunteer_id', name=op.f('uq_task_waitlist_task_id_volunteer_id')),
    )
    op.create_index('ix_task_waitlist_task_state', 'task_waitlist', ['task_id', 'state', 'id'])
    op.create_index('ix_task_waitlist_state_expires', 'task_waitlist', ['state', 'offer_expires_at'])
    op.create_index(op.f('ix_task_waitlist_volunteer_id'), 'task_waitlist', ['volunteer_id'])


def downgrade():
    op.drop_index(op.f('ix_task_waitlist_volunteer_id'), table_name='task_waitlist')
    op.drop_index('ix_task_waitlist_state_expires', table_name='task_waitlist')
    op.drop_index('ix_task_waitlist_task_state', table_name='task_waitlist')
    op.drop_table('task_waitlist')
    op.drop_column('volunteers', 'rejection_reason')
    op.drop_column('volunteer_tasks', 'bring')
