"""outcomes.satisfaction -> outcomes.assessment; household_feedback: the household's own satisfaction (回访)

Every rating recorded so far was given by the evaluator (mostly the provider rating its own service), so it is
kept as that evaluator's assessment. No household rating is invented: household_feedback starts empty and fills
as staff record follow-ups.

Revision ID: 21c209b8fbdb
Revises: a7c3e9f1b2d4
Create Date: 2026-12-06 04:30:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '21c209b8fbdb'
down_revision = 'a7c3e9f1b2d4'
branch_labels = None
depends_on = None


def _rename(old: str, new: str) -> None:
    """Rename the rating column in place (SQLite >= 3.25 rewrites the CHECK with it; PostgreSQL renames the
    constraint too), so no row is copied."""
    op.execute(f'ALTER TABLE outcomes RENAME COLUMN {old} TO {new}')
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f'ALTER TABLE outcomes RENAME CONSTRAINT ck_outcomes_{old} TO ck_outcomes_{new}')


def upgrade():
    _rename('satisfaction', 'assessment')
    op.create_table('household_feedback',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('satisfaction', sa.Integer(), nullable=False),
    sa.Column('channel', sa.Enum('staff_phone', 'staff_visit', 'assistant_visit', name='feedbackchannel', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('comment', sa.String(length=500), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('satisfaction BETWEEN 1 AND 5', name=op.f('ck_household_feedback_satisfaction')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_household_feedback_order_id_orders')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_household_feedback_recorded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_household_feedback')),
    sa.UniqueConstraint('order_id', name=op.f('uq_household_feedback_order_id'))
    )


def downgrade():
    op.drop_table('household_feedback')
    _rename('assessment', 'satisfaction')
