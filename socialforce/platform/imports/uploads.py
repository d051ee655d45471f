"""Uploaded import files in the instance folder under random names, with a JSON status file per upload.

The folder is readable by the server's user only (0700) and so is every file in it (0600): an upload holds
full resident ID numbers.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

from flask import current_app

from socialforce.platform.models import utcnow

TOKEN_RE = re.compile(r"^[0-9a-f]{32}$")
STALE_AFTER = timedelta(hours=24)
RUNNING_TIMEOUT = timedelta(minutes=10)
PROGRESS_INTERVAL_S = 0.5
PRIVATE_FILE, PRIVATE_DIR = 0o600, 0o700


def upload_dir() -> Path:
    """The folder holding uploads (created on first use, private to the server's user)."""
    folder = Path(current_app.instance_path) / "imports"
    folder.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    folder.chmod(PRIVATE_DIR)
    return folder


def private_file(path: Path) -> IO[bytes]:
    """A new file (replacing any old one) opened for writing, readable by the server's user only."""
    path.unlink(missing_ok=True)
    return os.fdopen(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_FILE), "wb")


class Upload:
    """One uploaded file (`<token>.upload`) and its status (`<token>.json`), written atomically."""

    def __init__(self, token: str, folder: Path):
        self.token = token
        self.data_path = folder / f"{token}.upload"
        self.status_path = folder / f"{token}.json"
        self.lock_path = folder / f"{token}.lock"
        self._last_progress = 0.0

    @classmethod
    def new(cls) -> Upload:
        """A new upload with a random token."""
        return cls(secrets.token_hex(16), upload_dir())

    @classmethod
    def find(cls, token: str) -> Upload | None:
        """The upload with this token, if it exists."""
        if not TOKEN_RE.match(token or ""):
            return None
        upload = cls(token, Path(current_app.instance_path) / "imports")
        return upload if upload.status_path.exists() else None

    def open_data(self) -> IO[bytes]:
        """The uploaded file, opened for writing (mode 0600)."""
        return private_file(self.data_path)

    def status(self) -> dict:
        """The current status; a run that stopped updating long ago is reported as interrupted."""
        status = json.loads(self.status_path.read_text(encoding="utf-8"))
        if status.get("state") == "running":
            updated = datetime.fromisoformat(status["updated_at"])
            if utcnow() - updated > RUNNING_TIMEOUT:
                status["state"] = "interrupted"
        return status

    def save(self, **changes) -> dict:
        """Merge `changes` into the status and write it atomically."""
        status = self.status() if self.status_path.exists() else {}
        status.update(changes, updated_at=utcnow().isoformat())
        temporary = self.status_path.parent / f"{self.token}-{secrets.token_hex(4)}.tmp"
        with private_file(temporary) as out:
            out.write(json.dumps(status, ensure_ascii=False).encode("utf-8"))
        os.replace(temporary, self.status_path)
        return status

    def progress(self, stage: str, done: int, total: int) -> None:
        """Record progress (at most twice a second, and always when a stage finishes)."""
        now = time.monotonic()
        if now - self._last_progress < PROGRESS_INTERVAL_S and done != total:
            return
        self._last_progress = now
        self.save(progress={"stage": stage, "done": done, "total": total})

    def claim(self) -> bool:
        """Take the upload for one import run (False if another run holds or held it)."""
        try:
            descriptor = os.open(self.lock_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_FILE)
        except FileExistsError:
            return False
        os.close(descriptor)
        return True

    def release(self) -> None:
        """Let the upload be imported again (after a run that wrote nothing)."""
        self.lock_path.unlink(missing_ok=True)

    def discard_data(self) -> None:
        """Delete the uploaded file and the rows its preview checked (both hold full ID numbers); the status stays."""
        self.data_path.unlink(missing_ok=True)
        for suffix in (".checked", ".checking"):  # imports/checked.py
            self.data_path.with_suffix(suffix).unlink(missing_ok=True)


def sweep(now: datetime) -> int:
    """Delete uploads and statuses older than a day; returns how many files were removed."""
    removed = 0
    limit = (now - STALE_AFTER).replace(tzinfo=UTC).timestamp()
    for path in upload_dir().iterdir():
        if path.suffix in (".upload", ".json", ".lock", ".tmp", ".checked", ".checking") and path.stat().st_mtime < limit:
            path.unlink(missing_ok=True)
            removed += 1
    return removed
