"""The matching package is pure (no Flask, no database): its tests need no app and prove the same on every
database, so they run once, in the SQLite run."""
from __future__ import annotations

import os
from pathlib import Path

import pytest


def pytest_collection_modifyitems(config, items):
    """Skip this folder's tests on PostgreSQL runs: the SQLite run already proves them."""
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        return
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.skip(reason="pure matching tests run once, in the SQLite run"))


@pytest.fixture(autouse=True)
def _context():
    """Overrides tests/conftest.py's per-test database fixture: nothing here touches a database."""
    yield
