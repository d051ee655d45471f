"""Running one unit of work as a transaction, retried when SQLite reports a transient lock."""
from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from functools import partial
from typing import TypeVar

import sqlalchemy as sa

from socialforce.platform.extensions import db

T = TypeVar("T")
K = TypeVar("K")
LOCK_MESSAGES = ("database is locked", "database table is locked", "could not serialize", "deadlock detected")


def is_transient(error: sa.exc.DBAPIError) -> bool:
    """Whether a database error is a lock or serialization conflict worth retrying."""
    return any(message in str(error.orig).lower() for message in LOCK_MESSAGES)


def run_in_transaction(work: Callable[[], T], attempts: int = 8) -> T:
    """Call `work()` and commit; on a transient lock roll back and retry with jitter; otherwise roll back and raise."""
    for attempt in range(1, attempts + 1):
        try:
            result = work()
            db.session.commit()
            return result
        except sa.exc.OperationalError as error:
            db.session.rollback()
            if not is_transient(error) or attempt == attempts:
                raise
            time.sleep(random.uniform(0.005, 0.02) * attempt)  # noqa: S311 - jitter, not security
        except BaseException:
            db.session.rollback()
            raise
    raise AssertionError("unreachable")


def one_by_one(work: Callable[[K], T], keys: Iterable[K]) -> list[T]:
    """`work(key)` for each key, each in a transaction of its own (committed, retried on a transient lock): a long
    job never holds the rows it has changed until its end, and one stopped halfway leaves each key done or not."""
    return [run_in_transaction(partial(work, key)) for key in keys]
