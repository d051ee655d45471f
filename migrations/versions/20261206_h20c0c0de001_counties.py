"""counties as tenants: counties, towns.county_id, providers.county_id (home county) with provider_counties
(grants), users.county_id and the prefecture_staff role

Revision ID: h20c0c0de001
Revises: h18a0c1e0001
Create Date: 2026-12-06 19:45:00

Existing data gets one county (Tengzhou, `reference.HOME_COUNTY`): every town, provider and login but
prefecture staff (none exist yet) is set to it, then towns.county_id and providers.county_id become NOT NULL.
`towns`, `providers` and `users` are referenced by most tables, so on SQLite none is batch-copied: the column is
added with its foreign key in one ALTER TABLE, filled, and the table's CREATE text is edited with SQLite's
documented writable_schema procedure (https://sqlite.org/lang_altertable.html, "otheralter") to add NOT NULL
and the CHECKs, which every row already satisfies.
"""
import re

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'h20c0c0de001'
down_revision = 'h18a0c1e0001'
branch_labels = None
depends_on = None

HOME = ('tengzhou', '滕州市', 'Tengzhou')
OLD_ROLES = ("'city_staff', 'town_staff', 'agency_admin', 'social_worker', 'unit_admin', 'cadre', 'volunteer', "
             "'village_assistant'")
NEW_ROLES = ("'city_staff', 'prefecture_staff', 'town_staff', 'agency_admin', 'social_worker', 'unit_admin', "
             "'cadre', 'volunteer', 'village_assistant'")
OLD_PROVIDER = "role IN ('city_staff', 'town_staff', 'village_assistant') OR provider_id IS NOT NULL"
NEW_PROVIDER = "role IN ('city_staff', 'prefecture_staff', 'town_staff', 'village_assistant') OR provider_id IS NOT NULL"
COUNTY = "(role = 'prefecture_staff') = (county_id IS NULL)"
BACKFILL_USERS = """
UPDATE users SET county_id = COALESCE(
    (SELECT t.county_id FROM towns t WHERE t.id = users.town_id),
    (SELECT t.county_id FROM villages v JOIN towns t ON t.id = v.town_id WHERE v.id = users.village_id),
    (SELECT p.county_id FROM providers p WHERE p.id = users.provider_id),
    (SELECT min(id) FROM counties))
"""


def _sqlite_edit(table: str, edit) -> None:
    bind = op.get_bind()
    sql = bind.execute(sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t"), {"t": table}).scalar()
    version = bind.execute(sa.text("PRAGMA schema_version")).scalar()
    bind.execute(sa.text("PRAGMA writable_schema = ON"))
    bind.execute(sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = :t"),
                 {"sql": edit(sql), "t": table})
    bind.execute(sa.text(f"PRAGMA schema_version = {int(version) + 1}"))
    bind.execute(sa.text("PRAGMA writable_schema = OFF"))


def _not_null(sql: str) -> str:
    edited = re.sub(r"\bcounty_id INTEGER\b", "county_id INTEGER NOT NULL", sql, count=1)
    assert edited != sql, sql
    return edited


def _users(sql: str) -> str:
    sql = sql.replace(f"role IN ({OLD_ROLES})", f"role IN ({NEW_ROLES})").replace(OLD_PROVIDER, NEW_PROVIDER)
    return re.sub(r"\)\s*$", f", CONSTRAINT ck_users_county_unless_prefecture CHECK ({COUNTY}))", sql)


def _add_county(table: str, sqlite: bool) -> None:
    if sqlite:
        op.execute(f"ALTER TABLE {table} ADD COLUMN county_id INTEGER "
                   f"CONSTRAINT fk_{table}_county_id_counties REFERENCES counties (id)")
    else:
        op.add_column(table, sa.Column('county_id', sa.Integer(), sa.ForeignKey(
            'counties.id', name=f'fk_{table}_county_id_counties'), nullable=True))
    op.create_index(f'ix_{table}_county_id', table, ['county_id'], unique=False)


def upgrade():
    sqlite = op.get_bind().dialect.name == 'sqlite'
    if 'counties' in sa.inspect(op.get_bind()).get_table_names():
        return  # kept by a downgrade on SQLite (or with a second county): tables, columns and CHECKs are still here
    counties = op.create_table(
        'counties',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=20), nullable=False),
        sa.Column('name_zh', sa.String(length=40), nullable=False),
        sa.Column('name_en', sa.String(length=60), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_counties')),
        sa.UniqueConstraint('code', name=op.f('uq_counties_code')),
        sa.UniqueConstraint('name_zh', name=op.f('uq_counties_name_zh')),
    )
    op.create_table(
        'provider_counties',
        sa.Column('provider_id', sa.Integer(), nullable=False),
        sa.Column('county_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['county_id'], ['counties.id'], name=op.f('fk_provider_counties_county_id_counties')),
        sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], ondelete='CASCADE',
                                name=op.f('fk_provider_counties_provider_id_providers')),
        sa.PrimaryKeyConstraint('provider_id', 'county_id', name=op.f('pk_provider_counties')),
    )
    op.create_index(op.f('ix_provider_counties_county_id'), 'provider_counties', ['county_id'], unique=False)
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT count(*) FROM towns")).scalar():
        op.bulk_insert(counties, [{'id': 1, 'code': HOME[0], 'name_zh': HOME[1], 'name_en': HOME[2]}])
        if not sqlite:
            op.execute("SELECT setval(pg_get_serial_sequence('counties', 'id'), 1)")
    for table in ('towns', 'providers', 'users'):
        _add_county(table, sqlite)
    op.execute("UPDATE towns SET county_id = (SELECT min(id) FROM counties)")
    op.execute("UPDATE providers SET county_id = (SELECT t.county_id FROM towns t WHERE t.id = providers.town_id)")
    op.execute(BACKFILL_USERS)
    if sqlite:
        _sqlite_edit('towns', _not_null)
        _sqlite_edit('providers', _not_null)
        _sqlite_edit('users', _users)
    else:
        for table in ('towns', 'providers'):
            op.alter_column(table, 'county_id', existing_type=sa.Integer(), nullable=False)
        op.drop_constraint(op.f('ck_users_role'), 'users', type_='check')
        op.create_check_constraint(op.f('ck_users_role'), 'users', f"role IN ({NEW_ROLES})")
        op.drop_constraint(op.f('ck_users_provider_role_provider'), 'users', type_='check')
        op.create_check_constraint(op.f('ck_users_provider_role_provider'), 'users', NEW_PROVIDER)
        op.create_check_constraint(op.f('ck_users_county_unless_prefecture'), 'users', COUNTY)


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == 'sqlite' or bind.execute(sa.text(
            "SELECT count(*) FROM users WHERE role = 'prefecture_staff'")).scalar() or bind.execute(sa.text(
            "SELECT count(*) FROM counties")).scalar() > 1:
        # SQLite cannot drop a column in a foreign key without copying these tables; and a second county's rows
        # (or prefecture staff with their audit trail) cannot be folded back into one: the schema stays.
        return
    op.drop_constraint(op.f('ck_users_county_unless_prefecture'), 'users', type_='check')
    op.drop_constraint(op.f('ck_users_provider_role_provider'), 'users', type_='check')
    op.create_check_constraint(op.f('ck_users_provider_role_provider'), 'users', OLD_PROVIDER)
    op.drop_constraint(op.f('ck_users_role'), 'users', type_='check')
    op.create_check_constraint(op.f('ck_users_role'), 'users', f"role IN ({OLD_ROLES})")
    for table in ('users', 'providers', 'towns'):
        op.drop_index(f'ix_{table}_county_id', table_name=table)
        op.drop_constraint(f'fk_{table}_county_id_counties', table, type_='foreignkey')
        op.drop_column(table, 'county_id')
    op.drop_index(op.f('ix_provider_counties_county_id'), table_name='provider_counties')
    op.drop_table('provider_counties')
    op.drop_table('counties')
