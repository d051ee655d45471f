"""The one way a portal sends a file: every download writes one audit row (who, when, address, what), then goes."""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from urllib.parse import quote

from flask import Response, request
from flask_login import current_user

from socialforce.platform.services import audit, exports
from socialforce.platform.transactions import run_in_transaction

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIMETYPE = "text/csv; charset=utf-8"
MIMETYPES = {".xlsx": XLSX_MIMETYPE, ".ics": "text/calendar; charset=utf-8", ".pdf": "application/pdf"}
_FILENAME_FORBIDDEN = re.compile(r'[\x00-\x1f\x7f"\\/:*?<>|;]+')


def send(kind: str, data: bytes, filename: str, **detail) -> Response:
    """Audit the download of `data` (action "export", its kind and details), commit, and send it as `filename`."""
    run_in_transaction(lambda: audit.record("export", current_user, ip=request.remote_addr, kind=kind, **detail))
    return download_response(data, filename)


def send_table(kind: str, fmt: str, basename: str, header: Sequence[str], rows: Iterable[Sequence],
               sheet_name: str | None = None, **detail) -> Response:
    """One table sent as `basename`.xlsx or `basename`.csv (fmt 'xlsx' or 'csv'), audited like every download."""
    data, filename = exports.table_file(fmt, basename, header, rows, sheet_name)
    return send(kind, data, filename, format=fmt, **detail)


def safe_filename(name: str) -> str:
    """A file name without path separators, quotes or control characters (Chinese kept)."""
    cleaned = _FILENAME_FORBIDDEN.sub("_", unicodedata.normalize("NFC", name)).strip(" ._")
    return cleaned[:120] or "export"


def download_response(data: bytes, filename: str) -> Response:
    """A download response for xlsx/csv/ics/pdf bytes; the extension of `filename` picks the content type.

    Content-Disposition carries an ASCII fallback and the full name as filename*=UTF-8''...
    """
    filename = safe_filename(filename)
    mimetype = next((m for ext, m in MIMETYPES.items() if filename.lower().endswith(ext)), CSV_MIMETYPE)
    ascii_name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode().strip(" ._")
    if "." not in ascii_name:
        ascii_name = "export" + ("." + filename.rsplit(".", 1)[-1] if "." in filename else "")
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
