"""background_jobs.state gains 'waiting': a partitioned batch dispatch waits for its part jobs

Revision ID: i20a0b1c2d001
Revises: h20c0c0de001
Create Date: 2026-12-06 19:40:00

Only the CHECK constraint changes ('waiting' fits the column's 7 characters). No table references
`background_jobs`, but a batch copy is still avoided on SQLite: widening a CHECK (and narrowing it once no row
holds the value) is SQLite's documented writable_schema edit of the table's CREATE text
(https://sqlite.org/lang_altertable.html, "otheralter"), as in f7a1c3e5d9b2.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'i20a0b1c2d001'
down_revision = 'h20c0c0de001'
branch_labels = None
depends_on = None

OLD = "state IN ('queued', 'running', 'done', 'failed')"
NEW = "state IN ('queued', 'running', 'done', 'failed', 'waiting')"
NAME = 'ck_background_jobs_jobstate'


def _sqlite_edit(old: str, new: str) -> None:
    bind = op.get_bind()
    sql = bind.execute(sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'background_jobs'")
                       ).scalar()
    if old not in sql:
        raise RuntimeError(f'background_jobs: the state CHECK is not {old!r}')
    version = bind.execute(sa.text("PRAGMA schema_version")).scalar()
    bind.execute(sa.text("PRAGMA writable_schema = ON"))
    bind.execute(sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = 'background_jobs'"),
                 {"sql": sql.replace(old, new)})
    bind.execute(sa.text(f"PRAGMA schema_version = {int(version) + 1}"))
    bind.execute(sa.text("PRAGMA writable_schema = OFF"))


def _set(old: str, new: str) -> None:
    if op.get_bind().dialect.name == 'sqlite':
        _sqlite_edit(old, new)
    else:
        op.drop_constraint(op.f(NAME), 'background_jobs', type_='check')
        op.create_check_constraint(op.f(NAME), 'background_jobs', new)


def upgrade():
    _set(OLD, NEW)


def downgrade():
    op.execute("UPDATE background_jobs SET state = 'failed', error = 'downgraded while waiting for its parts' "
               "WHERE state = 'waiting'")
    _set(NEW, OLD)
