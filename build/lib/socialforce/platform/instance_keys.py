"""Development secrets: a random session key and data key, created once under instance/ (mode 600) and kept.

`make run` signs sessions with the instance's own random key, never with a value published in the code or docs.
The data key encrypts resident IDs and phones, so it is created once and never replaced: deleting
instance/data_key makes every encrypted value of the development database unreadable (delete the database too;
`make run` then seeds a new demo). A development database created before these files existed was encrypted with
the key derived from the old published constant; that key is adopted once for it (so its data stays readable)
and a warning says to re-create the database for a private key.
"""
from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet
from flask import Flask

from config import LEGACY_DEV_SECRET_KEY, refuse_published_secret
from socialforce.platform import crypto

log = logging.getLogger("socialforce.keys")
SECRET_KEY_FILE, DATA_KEY_FILE = "secret_key", "data_key"
LEGACY_DATABASE = "socialforce.db"  # the development database file of earlier versions, in the instance folder


def use_instance_keys(app: Flask) -> None:
    """Set SECRET_KEY and DATA_KEY from the instance files (created on first run) unless the environment sets them."""
    folder = Path(app.instance_path)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _read_or_create(folder / SECRET_KEY_FILE, lambda: secrets.token_urlsafe(48))
    if not app.config.get("DATA_KEY"):
        app.config["DATA_KEY"] = _read_or_create(folder / DATA_KEY_FILE, lambda: _first_data_key(folder))
    refuse_published_secret(app.config["SECRET_KEY"])


def _first_data_key(folder: Path) -> str:
    """A new random Fernet key, or the old derived one for a development database that was encrypted with it."""
    if (folder / LEGACY_DATABASE).exists():
        log.warning("instance/%s was encrypted with the old public development key; that key is kept in "
                    "instance/%s so its data stays readable. Delete both files and run `make run` again for a "
                    "private key.", LEGACY_DATABASE, DATA_KEY_FILE)
        return crypto.derived_data_key(LEGACY_DEV_SECRET_KEY)
    return Fernet.generate_key().decode()


def _read_or_create(path: Path, make) -> str:
    """The file's value; on first use a new value is written readable by this user only (mode 600), atomically."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(make())
        try:
            os.link(draft, path)  # fails if another process created it first: then its value is used
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    value = path.read_text().strip()
    if not value:
        raise RuntimeError(f"{path} is empty; delete it to create a new key")
    return value
