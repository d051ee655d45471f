"""organisations through pages: agencies' credit code and contact phone, the towns an organisation covers, a unit's
department, a contract's service categories, a pairing's own monthly quota, and one active pairing per unit and
household (a unit may pair a household again after an earlier pairing ended)

Revision ID: 0a9e4c6d8f21
Revises: b3d91f6c2a87
Create Date: 2026-12-06 07:40:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0a9e4c6d8f21'
down_revision = 'b3d91f6c2a87'
branch_labels = None
depends_on = None

ACTIVE = sa.text('ended_on IS NULL')


# Plain ALTER TABLE for agencies and pairing_units (other tables reference their rows, so no batch copy); only
# `pairings`, which nothing references, is copied on SQLite to drop its old unique constraint.
def upgrade():
    op.add_column('agencies', sa.Column('credit_code', sa.String(length=18), nullable=True))
    op.add_column('agencies', sa.Column('contact_phone_enc', sa.Text(), nullable=True))
    op.add_column('agencies', sa.Column('contact_phone_masked', sa.String(length=20), nullable=True))
    op.create_index('uq_agencies_credit_code', 'agencies', ['credit_code'], unique=True)
    op.add_column('pairing_units', sa.Column('department', sa.String(length=100), nullable=True))
    op.create_table(
        'provider_towns',
        sa.Column('provider_id', sa.Integer(), nullable=False),
        sa.Column('town_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], name=op.f('fk_provider_towns_provider_id_providers'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['town_id'], ['towns.id'], name=op.f('fk_provider_towns_town_id_towns')),
        sa.PrimaryKeyConstraint('provider_id', 'town_id', name=op.f('pk_provider_towns')),
    )
    op.create_index(op.f('ix_provider_towns_town_id'), 'provider_towns', ['town_id'], unique=False)
    op.create_table(
        'contract_categories',
        sa.Column('contract_id', sa.Integer(), nullable=False),
        sa.Column('category_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['category_id'], ['service_categories.id'],
                                name=op.f('fk_contract_categories_category_id_service_categories')),
        sa.ForeignKeyConstraint(['contract_id'], ['contracts.id'],
                                name=op.f('fk_contract_categories_contract_id_contracts'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('contract_id', 'category_id', name=op.f('pk_contract_categories')),
    )
    op.create_index(op.f('ix_contract_categories_category_id'), 'contract_categories', ['category_id'], unique=False)
    with op.batch_alter_table('pairings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('monthly_visit_quota', sa.Integer(), nullable=True))
        batch_op.create_check_constraint(
            'monthly_visit_quota', 'monthly_visit_quota IS NULL OR monthly_visit_quota BETWEEN 0 AND 31')
        batch_op.drop_constraint('uq_pairings_provider_id_household_id', type_='unique')
    op.create_index('uq_pairings_active', 'pairings', ['provider_id', 'household_id'], unique=True,
                    sqlite_where=ACTIVE, postgresql_where=ACTIVE)


def downgrade():
    op.drop_index('uq_pairings_active', table_name='pairings', sqlite_where=ACTIVE, postgresql_where=ACTIVE)
    with op.batch_alter_table('pairings', schema=None) as batch_op:
        batch_op.create_unique_constraint('uq_pairings_provider_id_household_id', ['provider_id', 'household_id'])
        batch_op.drop_constraint('monthly_visit_quota', type_='check')
        batch_op.drop_column('monthly_visit_quota')
    op.drop_index(op.f('ix_contract_categories_category_id'), table_name='contract_categories')
    op.drop_table('contract_categories')
    op.drop_index(op.f('ix_provider_towns_town_id'), table_name='provider_towns')
    op.drop_table('provider_towns')
    op.drop_column('pairing_units', 'department')
    op.drop_index('uq_agencies_credit_code', table_name='agencies')
    op.drop_column('agencies', 'contact_phone_masked')
    op.drop_column('agencies', 'contact_phone_enc')
    op.drop_column('agencies', 'credit_code')
