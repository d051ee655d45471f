"""The households family: households, their members (with assistance categories) and service items."""

from __future__ import annotations

from datetime import datetime

from socialforce.platform.imports.sheets import Table
from socialforce.platform.imports.validation import Plan, Progress, Validator
from socialforce.platform.imports.writing import write_plan
from socialforce.platform.models import User


def validate(check: Validator, tables: dict[str, list[Table]]) -> None:
    """Check households, then members, then service items (members and items may refer to the file's households)."""
    check.households(tables["households"])
    check.members(tables["members"])
    check.items(tables["items"])


def write(plan: Plan, check: Validator, user: User, now: datetime, progress: Progress) -> dict[str, int]:
    """Insert the new households, members (with enrollments) and items."""
    return write_plan(plan, check, user, now, progress)
