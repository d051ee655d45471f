"""village assistants (村居协理员): users.village_id, the role in the users CHECKs, and item_drafts

Revision ID: f7a1c3e5d9b2
Revises: b4d2f6a8c0e1
Create Date: 2026-12-06 08:45:00

`users` is referenced by most tables, so on SQLite it is not batch-copied: its CHECKs are only relaxed (a new
allowed role) or added for that new role, which no existing row holds, so SQLite's documented writable_schema
edit of the table's CREATE text applies (https://sqlite.org/lang_altertable.html, "otheralter").
"""
import re

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'f7a1c3e5d9b2'
down_revision = 'b4d2f6a8c0e1'
branch_labels = None
depends_on = None

OLD_ROLES = "'city_staff', 'town_staff', 'agency_admin', 'social_worker', 'unit_admin', 'cadre', 'volunteer'"
NEW_ROLES = OLD_ROLES + ", 'village_assistant'"
OLD_PROVIDER = "role IN ('city_staff', 'town_staff') OR provider_id IS NOT NULL"
NEW_PROVIDER = "role IN ('city_staff', 'town_staff', 'village_assistant') OR provider_id IS NOT NULL"
VILLAGE = "role <> 'village_assistant' OR village_id IS NOT NULL"


def _sqlite_users_sql(edit) -> None:
    bind = op.get_bind()
    sql = bind.execute(sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'users'")).scalar()
    version = bind.execute(sa.text("PRAGMA schema_version")).scalar()
    bind.execute(sa.text("PRAGMA writable_schema = ON"))
    bind.execute(sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = 'users'"),
                 {"sql": edit(sql)})
    bind.execute(sa.text(f"PRAGMA schema_version = {int(version) + 1}"))
    bind.execute(sa.text("PRAGMA writable_schema = OFF"))


def _widen(sql: str) -> str:
    sql = sql.replace(f"role IN ({OLD_ROLES})", f"role IN ({NEW_ROLES})").replace(OLD_PROVIDER, NEW_PROVIDER)
    sql = re.sub(r"\brole VARCHAR\(13\)", "role VARCHAR(17)", sql)
    return re.sub(r"\)\s*$", f", CONSTRAINT ck_users_village_assistant_village CHECK ({VILLAGE}))", sql)


def upgrade():
    sqlite = op.get_bind().dialect.name == 'sqlite'
    if 'village_id' in {c['name'] for c in sa.inspect(op.get_bind()).get_columns('users')}:
        pass  # kept by a downgrade while village assistants existed: role, CHECKs and column are still here
    elif sqlite:  # SQLite adds a column with its foreign key in one ALTER TABLE; Alembic would want a batch copy
        op.execute("ALTER TABLE users ADD COLUMN village_id INTEGER "
                   "CONSTRAINT fk_users_village_id_villages REFERENCES villages (id)")
        op.create_index(op.f('ix_users_village_id'), 'users', ['village_id'], unique=False)
        _sqlite_users_sql(_widen)
    else:
        op.add_column('users', sa.Column('village_id', sa.Integer(), sa.ForeignKey(
            'villages.id', name=op.f('fk_users_village_id_villages')), nullable=True))
        op.create_index(op.f('ix_users_village_id'), 'users', ['village_id'], unique=False)
        op.drop_constraint(op.f('ck_users_role'), 'users', type_='check')
        op.alter_column('users', 'role', type_=sa.String(17), existing_type=sa.String(13), existing_nullable=False)
        op.create_check_constraint(op.f('ck_users_role'), 'users', f"role IN ({NEW_ROLES})")
        op.drop_constraint(op.f('ck_users_provider_role_provider'), 'users', type_='check')
        op.create_check_constraint(op.f('ck_users_provider_role_provider'), 'users', NEW_PROVIDER)
        op.create_check_constraint(op.f('ck_users_village_assistant_village'), 'users', VILLAGE)
    op.create_table(
        'item_drafts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('household_id', sa.Integer(), nullable=False),
        sa.Column('category_id', sa.Integer(), nullable=False),
        sa.Column('description', sa.String(length=500), nullable=False),
        sa.Column('priority', sa.Enum('normal', 'high', 'urgent', name='priority', native_enum=False,
                                      create_constraint=True), nullable=False),
        sa.Column('status', sa.Enum('pending', 'approved', 'returned', name='draftstatus', native_enum=False,
                                    create_constraint=True), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
        sa.Column('reviewed_at', sa.DateTime(), nullable=True),
        sa.Column('review_note', sa.String(length=200), nullable=True),
        sa.Column('item_id', sa.Integer(), nullable=True),
        sa.CheckConstraint("status <> 'approved' OR item_id IS NOT NULL", name=op.f('ck_item_drafts_approved_item')),
        sa.CheckConstraint("status <> 'returned' OR review_note IS NOT NULL",
                           name=op.f('ck_item_drafts_returned_note')),
        sa.ForeignKeyConstraint(['category_id'], ['service_categories.id'],
                                name=op.f('fk_item_drafts_category_id_service_categories')),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_item_drafts_created_by_id_users')),
        sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_item_drafts_household_id_households')),
        sa.ForeignKeyConstraint(['item_id'], ['service_items.id'], name=op.f('fk_item_drafts_item_id_service_items')),
        sa.ForeignKeyConstraint(['reviewed_by_id'], ['users.id'], name=op.f('fk_item_drafts_reviewed_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_item_drafts')),
    )
    op.create_index(op.f('ix_item_drafts_created_by_id'), 'item_drafts', ['created_by_id'], unique=False)
    op.create_index(op.f('ix_item_drafts_household_id'), 'item_drafts', ['household_id'], unique=False)
    op.create_index('ix_item_drafts_status_household', 'item_drafts', ['status', 'household_id'], unique=False)


def downgrade():
    op.drop_table('item_drafts')
    if op.get_bind().dialect.name == 'sqlite' or op.get_bind().execute(
            sa.text("SELECT count(*) FROM users WHERE role = 'village_assistant'")).scalar():
        # SQLite cannot drop a column in a foreign key without copying `users`; and existing village assistants
        # (with the audit trail pointing at them) are kept: the role, its CHECKs and village_id stay (unused).
        return
    op.drop_constraint(op.f('ck_users_village_assistant_village'), 'users', type_='check')
    op.drop_constraint(op.f('ck_users_provider_role_provider'), 'users', type_='check')
    op.create_check_constraint(op.f('ck_users_provider_role_provider'), 'users', OLD_PROVIDER)
    op.drop_constraint(op.f('ck_users_role'), 'users', type_='check')
    op.alter_column('users', 'role', type_=sa.String(13), existing_type=sa.String(17), existing_nullable=False)
    op.create_check_constraint(op.f('ck_users_role'), 'users', f"role IN ({OLD_ROLES})")
    op.drop_index(op.f('ix_users_village_id'), table_name='users')
    op.drop_constraint(op.f('fk_users_village_id_villages'), 'users', type_='foreignkey')
    op.drop_column('users', 'village_id')
