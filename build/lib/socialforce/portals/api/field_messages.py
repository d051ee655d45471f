"""marshmallow's field messages in the caller's language: the validation library writes them in English, so each
known form is matched here and answered with a translated message (an unknown one is kept as it is)."""
from __future__ import annotations

import re
from collections.abc import Callable

from flask_babel import gettext as _

_FORMS: list[tuple[re.Pattern[str], Callable[..., str]]] = [
    (re.compile(r"^Missing data for required field\.$"), lambda: _("This field is required.")),
    (re.compile(r"^Unknown field\.$"), lambda: _("This field is not accepted here.")),
    (re.compile(r"^Field may not be null\.$"), lambda: _("This field may not be empty (null).")),
    (re.compile(r"^Invalid input type\.$"), lambda: _("Send a JSON object.")),
    (re.compile(r"^Not a valid (integer|number)\.$"), lambda _kind: _("Enter a number.")),
    (re.compile(r"^Number too large\.$"), lambda: _("The number is too large.")),
    (re.compile(r"^Not a valid string\.$"), lambda: _("Enter text.")),
    (re.compile(r"^Not a valid boolean\.$"), lambda: _("Enter true or false.")),
    (re.compile(r"^Not a valid date\.$"), lambda: _("Enter a date as YYYY-MM-DD.")),
    (re.compile(r"^Not a valid datetime( with an offset)?\.$"),
     lambda _offset: _("Enter a time in ISO 8601 with its offset, e.g. 2026-12-07T09:00:00+08:00.")),
    (re.compile(r"^Must be greater than or equal to (\S+) and less than or equal to (\S+)\.$"),
     lambda low, high: _("Enter a value from %(min)s to %(max)s.", min=low, max=high)),
    (re.compile(r"^Length must be between (\d+) and (\d+)\.$"),
     lambda low, high: _("Enter %(min)s to %(max)s characters.", min=low, max=high)),
    (re.compile(r"^Longer than maximum length (\d+)\.$"), lambda high: _("Enter at most %(max)s characters.", max=high)),
    (re.compile(r"^Shorter than minimum length (\d+)\.$"),
     lambda low: _("Enter at least %(min)s characters.", min=low)),
    (re.compile(r"^Must be one of: (.*)\.$"), lambda choices: _("Choose one of: %(choices)s.", choices=choices)),
    (re.compile(r"^String does not match expected pattern\.$"), lambda: _("This text contains a character that is "
                                                                          "not accepted.")),
]


def localise(message: str) -> str:
    """A marshmallow field message in the request's language (unknown messages unchanged)."""
    for pattern, translate in _FORMS:
        match = pattern.match(message)
        if match:
            return translate(*match.groups())
    return message
