"""Unified social credit codes (统一社会信用代码, GB 32100-2015): 18 characters, the last a check character.

Layout: registration authority (1) + organisation type (1) + administrative division (6 digits) + organisation
code (9) + check character (1). The alphabet is the digits and the capitals without I, O, S, V and Z; each
character's value is its position in that alphabet. The check character's value is 31 - (sum of value x weight
over the first 17 characters) mod 31, with 31 written as 0. Pure: no Flask or database.
"""
from __future__ import annotations

import re
import unicodedata

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_SHAPE = re.compile(r"^[0-9A-HJ-NP-RTUW-Y]{2}[0-9]{6}[0-9A-HJ-NP-RTUW-Y]{10}$")


class InvalidCreditCode(ValueError):
    """Raised with a machine-readable `reason`: 'length', 'characters', 'division' or 'check_character'."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def canonical(raw: str | None) -> str:
    """The one spelling stored and compared: NFKC (full-width to ASCII), no spaces or invisible characters,
    upper case."""
    text = unicodedata.normalize("NFKC", raw or "")
    return "".join(ch for ch in text if not ch.isspace() and unicodedata.category(ch) != "Cf").upper()


def check_character(first17: str) -> str:
    """The check character for the first 17 characters (which must be in the alphabet)."""
    total = sum(ALPHABET.index(c) * w for c, w in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def normalize(raw: str | None) -> str:
    """A valid code in canonical form, or InvalidCreditCode saying what is wrong."""
    code = canonical(raw)
    if len(code) != 18:
        raise InvalidCreditCode("length")
    if any(c not in ALPHABET for c in code):
        raise InvalidCreditCode("characters")
    if not _SHAPE.match(code):
        raise InvalidCreditCode("division")
    if check_character(code[:17]) != code[17]:
        raise InvalidCreditCode("check_character")
    return code


def is_valid(raw: str | None) -> bool:
    """Whether `raw` is a valid unified social credit code."""
    try:
        normalize(raw)
    except InvalidCreditCode:
        return False
    return True


def make(first17: str) -> str:
    """The full code for 17 leading characters (used by the demo seed and tests)."""
    return first17 + check_character(first17)
