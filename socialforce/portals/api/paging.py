"""Page-numbered listings for the API: a page of rows with its number, size, total and page count."""
from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from flask import current_app

from socialforce.platform.extensions import db


def page_of(query: sa.Select, page: int, row: Callable, total: int | None = None) -> dict:
    """One page of a select, each row turned into a dict by `row`, with the paging figures (`total` when the caller
    has counted the rows already, else one count query)."""
    size = current_app.config["PAGE_SIZE"]
    result = db.paginate(query, page=page, per_page=size, error_out=False, count=total is None)
    total = (result.total or 0) if total is None else total
    return {"page": page, "per_page": size, "total": total, "pages": -(-total // size),
            "items": [row(x) for x in result.items]}


def page_of_list(rows: list, page: int, row: Callable) -> dict:
    """One page of an already computed list (e.g. a ranking), with the paging figures."""
    size = current_app.config["PAGE_SIZE"]
    total = len(rows)
    return {"page": page, "per_page": size, "total": total, "pages": -(-total // size),
            "items": [row(x) for x in rows[(page - 1) * size: page * size]]}
