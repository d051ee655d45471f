"""Bulk inserts with ids assigned in Python, chunked, with progress and a per-table row count."""
from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from socialforce.platform.extensions import db

CHUNK_ROWS = 10_000
Progress = Callable[[str, int, int], None]


def _table(model_or_table) -> sa.Table:
    return model_or_table if isinstance(model_or_table, sa.Table) else model_or_table.__table__


class BulkWriter:
    """Hands out primary keys and writes rows through Core `executemany` inserts (flushes, never commits)."""

    def __init__(self, progress: Progress | None = None):
        self.progress = progress or (lambda stage, done, total: None)
        self.counts: dict[str, int] = {}
        self._next_id: dict[str, int] = {}

    def next_id(self, model) -> int:
        """The next free primary key of a table (max(id) + 1 on first use)."""
        table = _table(model)
        if table.name not in self._next_id:
            top = db.session.scalar(sa.select(sa.func.max(table.c.id)))
            self._next_id[table.name] = (top or 0) + 1
        value = self._next_id[table.name]
        self._next_id[table.name] = value + 1
        return value

    def insert(self, model, rows: list[dict], stage: str | None = None) -> None:
        """Insert rows (all with the same keys) in chunks, reporting progress per chunk."""
        table = _table(model)
        stage = stage or table.name
        db.session.flush()
        for start in range(0, len(rows), CHUNK_ROWS):
            chunk = rows[start:start + CHUNK_ROWS]
            db.session.execute(sa.insert(table), chunk)
            self.progress(stage, start + len(chunk), len(rows))
        if not rows:
            self.progress(stage, 0, 0)
        self.counts[table.name] = self.counts.get(table.name, 0) + len(rows)

    def advance_sequences(self) -> None:
        """On PostgreSQL, move each written table's id sequence past the ids assigned here."""
        if db.session.get_bind().dialect.name != "postgresql":
            return
        for name in sorted(self._next_id):
            db.session.execute(sa.text(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))"
            ))
