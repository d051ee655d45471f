"""Field-level protection of personal data: encryption at rest, keyed hashes for lookups, masks."""
from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from functools import lru_cache

from cryptography.fernet import Fernet
from flask import current_app

from socialforce.platform import idnumber


def derived_data_key(secret_key: str) -> str:
    """A data key derived from a secret key: the tests' fixed key (and older development databases' key)."""
    return base64.urlsafe_b64encode(hashlib.sha256(b"socialforce-data-key:" + secret_key.encode()).digest()).decode()


@lru_cache(maxsize=4)
def _keys(secret_key: str, data_key: str | None) -> tuple[Fernet, bytes]:
    # tests only run without DATA_KEY: development creates one in instance/, production refuses to start without it
    raw = base64.urlsafe_b64decode((data_key or derived_data_key(secret_key)).encode())
    fernet = Fernet(base64.urlsafe_b64encode(raw[:32]))
    mac_key = hashlib.sha256(b"socialforce-lookup:" + raw).digest()
    return fernet, mac_key


def _current_keys() -> tuple[Fernet, bytes]:
    return _keys(current_app.config["SECRET_KEY"], current_app.config.get("DATA_KEY"))


def encrypt(value: str) -> str:
    """Encrypt a personal-data value for storage."""
    return encrypter()(value)


def encrypter() -> Callable[[str], str]:
    """`encrypt` with the keys looked up once, for many values (an import's rows)."""
    fernet = _current_keys()[0]
    return lambda value: fernet.encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    """Decrypt a stored personal-data value (only the audited reveal and exports with purpose call this)."""
    return _current_keys()[0].decrypt(token.encode()).decode()


def lookup_hash(value: str) -> str:
    """A keyed hash (HMAC-SHA256) for exact lookups without decrypting."""
    return lookup_hasher()(value)


def lookup_hasher() -> Callable[[str], str]:
    """`lookup_hash` with the key looked up once, for many values (an import's rows)."""
    mac_key = _current_keys()[1]
    return lambda value: hmac.new(mac_key, value.encode(), hashlib.sha256).hexdigest()


def id_number_hash(number: str) -> str:
    """The lookup hash of a resident ID, taken on its canonical form so every spelling finds the same person."""
    return lookup_hash(idnumber.canonical(number))


def mask_phone(phone: str) -> str:
    """A phone number with its middle hidden, e.g. 138****5678."""
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 7 else "****"
