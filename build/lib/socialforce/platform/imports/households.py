"""The households family: villages (村居), households, their members (with assistance categories) and service
items."""

from __future__ import annotations

from datetime import datetime

from socialforce.platform.imports import villages
from socialforce.platform.imports.sheets import Table
from socialforce.platform.imports.validation import Plan, Progress, Validator
from socialforce.platform.imports.writing import write_plan
from socialforce.platform.models import User


def validate(check: Validator, tables: dict[str, list[Table]]) -> None:
    """Check villages, households, members, then service items (each may refer to the file's earlier rows)."""
    villages.validate(check, tables.get("villages", []))
    check.households(tables["households"])
    check.members(tables["members"])
    check.items(tables["items"])


def write(plan: Plan, check: Validator, user: User, now: datetime, progress: Progress) -> dict[str, int]:
    """Insert the new villages, households, members (with enrollments) and items."""
    counts = villages.write(plan, check, user, now, progress) if plan.read["villages"] else {}
    counts.update(write_plan(plan, check, user, now, progress))
    return counts
