"""imports of volunteers, payments and corrections: national volunteer fields, households.left_on, household_changes

Revision ID: b4d2f6a8c0e1
Revises: b4e1d7a9c3f2
Create Date: 2026-12-06 07:30:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'b4d2f6a8c0e1'
down_revision = 'b4e1d7a9c3f2'
branch_labels = None
depends_on = None


VOLUNTEER_COLUMNS = (
    sa.Column('id_type', sa.String(length=20), nullable=True),
    sa.Column('national_no', sa.String(length=40), nullable=True),
    sa.Column('registered_on', sa.Date(), nullable=True),
    sa.Column('imported_hours', sa.Float(), nullable=False, server_default='0'),
    sa.Column('organisation', sa.String(length=100), nullable=True),
)


# Plain ALTER TABLE and CREATE TABLE: a batch copy of `volunteers` or `households` would fail on SQLite while other
# tables reference their rows.
def upgrade():
    for column in VOLUNTEER_COLUMNS:
        op.add_column('volunteers', column)
    op.create_index('uq_volunteers_national_no', 'volunteers', ['national_no'], unique=True)
    op.add_column('households', sa.Column('left_on', sa.Date(), nullable=True))
    op.create_table(
        'household_changes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('household_id', sa.Integer(), nullable=False),
        sa.Column('member_id', sa.Integer(), nullable=True),
        sa.Column('member_key', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('effective_on', sa.Date(), nullable=False),
        sa.Column('old_value', sa.String(length=300), nullable=False),
        sa.Column('new_value', sa.String(length=300), nullable=False),
        sa.Column('reason', sa.String(length=200), nullable=True),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_household_changes_created_by_id_users')),
        sa.ForeignKeyConstraint(['household_id'], ['households.id'],
                                name=op.f('fk_household_changes_household_id_households')),
        sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_household_changes_member_id_members')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_household_changes')),
        sa.UniqueConstraint('household_id', 'member_key', 'kind', 'effective_on',
                            name=op.f('uq_household_changes_household_id_member_key_kind_effective_on')),
    )
    op.create_index(op.f('ix_household_changes_household_id'), 'household_changes', ['household_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_household_changes_household_id'), table_name='household_changes')
    op.drop_table('household_changes')
    op.drop_column('households', 'left_on')
    op.drop_index('uq_volunteers_national_no', table_name='volunteers')
    for column in reversed(VOLUNTEER_COLUMNS):
        op.drop_column('volunteers', column.name)
