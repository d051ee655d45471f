"""The one table of import families: which kinds each reads, and the module that validates and writes them.

A family runs only when the upload holds at least one sheet of its kinds. Families are validated one after the
other against the database (a payment or correction refers to households already in the system, not to a
household sheet of the same file; a pairing may name a household of the same file, as the households family is
validated and written before it) and written in this order in the import's one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from socialforce.platform.imports import corrections, households, organisations, payments, volunteers
from socialforce.platform.imports.rules import (
    AGENCIES,
    CONTRACTS,
    CORRECTIONS,
    HOUSEHOLDS,
    ITEMS,
    MEMBERS,
    PAIRINGS,
    PAYMENTS,
    UNITS,
    VILLAGES,
    VOLUNTEERS,
    Kind,
)
from socialforce.platform.imports.sheets import Table
from socialforce.platform.imports.validation import Plan, Progress, Validator
from socialforce.platform.models import User

Validate = Callable[[Validator, dict[str, list[Table]]], None]
Write = Callable[[Plan, Validator, User, datetime, Progress], dict[str, int]]
Recheck = Callable[[Validator, Iterable[list]], None]


@dataclass(frozen=True)
class Family:
    key: str
    kinds: tuple[Kind, ...]
    validate: Validate
    write: Write
    audit_action: str
    recheck: Recheck | None = None  # plans a preview's checked rows against the database (imports/checked.py)

    def present(self, tables: dict[str, list[Table]]) -> bool:
        """Whether the upload holds a sheet of one of this family's kinds."""
        return any(tables.get(kind.key) for kind in self.kinds)


FAMILIES: tuple[Family, ...] = (
    Family("households", (VILLAGES, HOUSEHOLDS, MEMBERS, ITEMS), households.validate, households.write, "import_households"),
    Family(
        "organisations",
        (AGENCIES, UNITS, CONTRACTS, PAIRINGS),
        organisations.validate,
        organisations.write,
        "import_organisations",
    ),
    Family(
        "volunteers",
        (VOLUNTEERS,),
        volunteers.validate,
        volunteers.write,
        "import_volunteers",
        volunteers.recheck,
    ),
    Family("corrections", (CORRECTIONS,), corrections.validate, corrections.write, "import_corrections"),
    Family("payments", (PAYMENTS,), payments.validate, payments.write, "import_payments", payments.recheck),
)
