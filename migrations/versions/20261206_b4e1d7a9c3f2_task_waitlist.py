"""volunteer tasks: what to bring, a waitlist per task; volunteers: the reason a registration was turned down;
feedback_links: the household's one-question satisfaction link (household_feedback.channel gains household_sms)

Revision ID: b4e1d7a9c3f2
Revises: b3e5d7f9a2c4
Create Date: 2026-12-06 07:30:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'b4e1d7a9c3f2'
down_revision = 'b3e5d7f9a2c4'
branch_labels = None
depends_on = None

STATES = ('waiting', 'offered', 'confirmed', 'expired', 'left')
OLD_CHANNELS = ('staff_phone', 'staff_visit', 'assistant_visit')
NEW_CHANNELS = (*OLD_CHANNELS, 'household_sms')


def _feedback_table(name: str, channels: tuple[str, ...]) -> tuple:
    """household_feedback's columns and constraints, with the channel CHECK allowing `channels`."""
    return (name,
            sa.Column('id', sa.Integer(), nullable=False),
            sa.Column('order_id', sa.Integer(), nullable=False),
            sa.Column('satisfaction', sa.Integer(), nullable=False),
            sa.Column('channel', sa.String(length=15), nullable=False),
            sa.Column('comment', sa.String(length=500), nullable=True),
            sa.Column('recorded_by_id', sa.Integer(), nullable=True),
            sa.Column('recorded_at', sa.DateTime(), nullable=False),
            sa.CheckConstraint('satisfaction BETWEEN 1 AND 5', name=op.f('ck_household_feedback_satisfaction')),
            sa.CheckConstraint(_channel_check(channels), name=op.f('ck_household_feedback_feedbackchannel')),
            sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_household_feedback_order_id_orders')),
            sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'],
                                    name=op.f('fk_household_feedback_recorded_by_id_users')),
            sa.PrimaryKeyConstraint('id', name=op.f('pk_household_feedback')),
            sa.UniqueConstraint('order_id', name=op.f('uq_household_feedback_order_id')))


def _channel_check(channels: tuple[str, ...]) -> str:
    return "channel IN (" + ", ".join(f"'{c}'" for c in channels) + ")"


def _set_channels(channels: tuple[str, ...]) -> None:
    """Replace household_feedback's channel CHECK. SQLite cannot alter a CHECK, so the table (referenced by no
    other table) is copied: created anew, filled, the old one dropped and the new one renamed."""
    if op.get_bind().dialect.name == 'sqlite':
        name, *parts = _feedback_table('_household_feedback_new', channels)
        op.create_table(name, *parts)
        columns = 'id, order_id, satisfaction, channel, comment, recorded_by_id, recorded_at'
        op.execute(f'INSERT INTO _household_feedback_new ({columns}) SELECT {columns} FROM household_feedback')
        op.drop_table('household_feedback')
        op.rename_table('_household_feedback_new', 'household_feedback')
    else:
        op.drop_constraint(op.f('ck_household_feedback_feedbackchannel'), 'household_feedback', type_='check')
        op.create_check_constraint(op.f('ck_household_feedback_feedbackchannel'), 'household_feedback',
                                   _channel_check(channels))


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
    op.create_table(
        'feedback_links',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('order_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.Column('used_at', sa.DateTime(), nullable=True),
        sa.Column('delivery', sa.Enum('pending', 'sent', 'failed', name='linkdelivery', native_enum=False,
                                      create_constraint=True, length=7), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(), nullable=False),
        sa.Column('last_error', sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_feedback_links_order_id_orders')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_feedback_links')),
        sa.UniqueConstraint('order_id', name=op.f('uq_feedback_links_order_id')),
    )
    op.create_index('ix_feedback_links_delivery_next', 'feedback_links', ['delivery', 'next_attempt_at'])
    _set_channels(NEW_CHANNELS)


def downgrade():
    op.execute("DELETE FROM household_feedback WHERE channel = 'household_sms'")
    _set_channels(OLD_CHANNELS)
    op.drop_index('ix_feedback_links_delivery_next', table_name='feedback_links')
    op.drop_table('feedback_links')
    op.drop_index(op.f('ix_task_waitlist_volunteer_id'), table_name='task_waitlist')
    op.drop_index('ix_task_waitlist_state_expires', table_name='task_waitlist')
    op.drop_index('ix_task_waitlist_task_state', table_name='task_waitlist')
    op.drop_table('task_waitlist')
    op.drop_column('volunteers', 'rejection_reason')
    op.drop_column('volunteer_tasks', 'bring')
