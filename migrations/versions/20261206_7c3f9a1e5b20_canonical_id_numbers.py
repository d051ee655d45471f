"""Re-normalise stored resident ID numbers (NFKC, no whitespace or invisible characters, upper-case X)

Members and volunteers whose stored ID was saved in another spelling (full-width digits, for example) get the
canonical number re-encrypted, its keyed hash, mask and suffix. A row whose canonical hash another row already
holds is the same person registered twice: it is left as it is and reported (count and masked IDs, never the
number) for staff to merge, instead of failing on the unique constraint. Needs the app's data key, as every
`flask db upgrade` has (the migration runs inside the app context). Downgrade keeps the canonical numbers.

Revision ID: 7c3f9a1e5b20
Revises: 21c209b8fbdb
Create Date: 2026-12-06 04:45:00

"""
import logging

import sqlalchemy as sa
from alembic import op
from cryptography.fernet import InvalidToken

from socialforce.platform import crypto, idnumber

# revision identifiers, used by Alembic.
revision = '7c3f9a1e5b20'
down_revision = '21c209b8fbdb'
branch_labels = None
depends_on = None

log = logging.getLogger('alembic.runtime.migration')


def _renormalise(conn, table: sa.Table, with_suffix: bool) -> None:
    rows = conn.execute(sa.select(table.c.id, table.c.id_number_enc, table.c.id_number_hash)
                        .order_by(table.c.id)).all()
    taken = {row.id_number_hash for row in rows}
    duplicates, unreadable = [], 0
    for row in rows:
        try:
            stored = crypto.decrypt(row.id_number_enc)
        except InvalidToken:
            unreadable += 1
            continue
        number = idnumber.canonical(stored)
        digest = crypto.id_number_hash(number)
        if number == stored and digest == row.id_number_hash:
            continue
        if digest in taken:
            duplicates.append(idnumber.mask(number))
            continue
        values = {'id_number_enc': crypto.encrypt(number), 'id_number_hash': digest,
                  'id_masked': idnumber.mask(number)}
        if with_suffix:
            values['id_suffix'] = number[-4:]
        conn.execute(table.update().where(table.c.id == row.id).values(**values))
        taken.add(digest)
    if duplicates:
        log.warning('%s: %d stored ID number(s) are another spelling of an ID already registered, left for staff '
                    'to merge: %s', table.name, len(duplicates), ', '.join(duplicates))
    if unreadable:
        log.warning('%s: %d stored ID number(s) cannot be decrypted with this data key, left unchanged',
                    table.name, unreadable)


def upgrade():
    conn = op.get_bind()
    for name, with_suffix in (('members', True), ('volunteers', False)):
        columns = ['id', 'id_number_enc', 'id_number_hash', 'id_masked'] + (['id_suffix'] if with_suffix else [])
        _renormalise(conn, sa.table(name, *map(sa.column, columns)), with_suffix)


def downgrade():
    pass
