"""Chinese resident ID numbers (GB 11643-1999): check character, birth date, masking."""
from __future__ import annotations

import re
import unicodedata
from datetime import date

from socialforce.platform import localtime

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"
_SHAPE = re.compile(r"^[0-9]{17}[0-9X]$")


class InvalidIdNumber(ValueError):
    """Raised with a machine-readable `reason`: 'format', 'birth_date' or 'check_character'."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def check_character(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character for the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True))
    return CHECK_CHARS[total % 11]


def birth_date_of(number: str) -> date:
    """The birth date encoded in positions 7-14 (raises ValueError if it is not a real date)."""
    return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))


def canonical(raw: str | None) -> str:
    """The one spelling stored, hashed and searched: NFKC, no whitespace or invisible characters, upper-case X."""
    if raw and raw.isascii() and raw.isalnum():  # the usual case: NFKC and the filters leave it as it is
        return raw.upper()
    text = unicodedata.normalize("NFKC", raw or "")
    return "".join(ch for ch in text if not ch.isspace() and unicodedata.category(ch) != "Cf").upper()


def normalize(raw: str | None, today: date | None = None) -> str:
    """A valid 18-character ID in canonical form (see `canonical`), or InvalidIdNumber."""
    number = canonical(raw)
    if not _SHAPE.match(number):
        raise InvalidIdNumber("format")
    try:
        born = birth_date_of(number)
    except ValueError:
        raise InvalidIdNumber("birth_date") from None
    if born.year < 1900 or born > (today or localtime.today()):
        raise InvalidIdNumber("birth_date")
    if check_character(number[:17]) != number[17]:
        raise InvalidIdNumber("check_character")
    return number


def is_valid(raw: str) -> bool:
    """Whether `raw` is a valid resident ID number."""
    try:
        normalize(raw)
    except InvalidIdNumber:
        return False
    return True


def mask(number: str) -> str:
    """The masked form shown everywhere: first 4 and last 4 characters, e.g. 3704**********123X."""
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


def sex_of(number: str) -> str:
    """'M' or 'F' from the 17th digit (odd is male)."""
    return "M" if int(number[16]) % 2 else "F"


def make(region: str, born: date, sequence: int) -> str:
    """Build a valid ID from a 6-digit region code, a birth date and a 3-digit sequence (for demo data)."""
    first17 = f"{region}{born:%Y%m%d}{sequence % 1000:03d}"
    return first17 + check_character(first17)
