"""The one way a portal sends a file: every download writes one audit row (who, when, address, what), then goes."""
from __future__ import annotations

from collections.abc import Iterable, Sequence

from flask import Response, request
from flask_login import current_user

from socialforce.platform.services import audit, exports
from socialforce.platform.transactions import run_in_transaction


def send(kind: str, data: bytes, filename: str, **detail) -> Response:
    """Audit the download of `data` (action "export", its kind and details), commit, and send it as `filename`."""
    run_in_transaction(lambda: audit.record("export", current_user, ip=request.remote_addr, kind=kind, **detail))
    return exports.download_response(data, filename)


def send_table(kind: str, fmt: str, basename: str, header: Sequence[str], rows: Iterable[Sequence],
               sheet_name: str | None = None, **detail) -> Response:
    """One table sent as `basename`.xlsx or `basename`.csv (fmt 'xlsx' or 'csv'), audited like every download."""
    data, filename = exports.table_file(fmt, basename, header, rows, sheet_name)
    return send(kind, data, filename, format=fmt, **detail)
