"""qualifications.verified_at / verified_by_id: only qualifications staff have verified count for matching

Backfill: every qualification of an agency or pairing unit (entered by the bureau) and every background check
(recorded by staff) counts as verified at upgrade time; a volunteer's self-declared certificate waits for staff.

Revision ID: d2c8e1f4a6b9
Revises: 8f3b6d2a9c17
Create Date: 2026-11-29 12:45:00

"""
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'd2c8e1f4a6b9'
down_revision = '8f3b6d2a9c17'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('qualifications') as batch_op:
        batch_op.add_column(sa.Column('verified_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('verified_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_qualifications_verified_by_id_users'), 'users',
                                    ['verified_by_id'], ['id'])
    qualifications = sa.table('qualifications', sa.column('provider_id'), sa.column('code'),
                              sa.column('verified_at', sa.DateTime()))
    providers = sa.table('providers', sa.column('id'), sa.column('kind'))
    op.execute(qualifications.update()
               .where(sa.or_(qualifications.c.code == 'background_check',
                             qualifications.c.provider_id.in_(sa.select(providers.c.id)
                                                             .where(providers.c.kind != 'volunteer'))))
               .values(verified_at=datetime.now(UTC).replace(tzinfo=None)))


def downgrade():
    with op.batch_alter_table('qualifications') as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_qualifications_verified_by_id_users'), type_='foreignkey')
        batch_op.drop_column('verified_by_id')
        batch_op.drop_column('verified_at')
