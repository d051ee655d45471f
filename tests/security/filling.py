"""How the generated walks over the url_map fill a rule's parameters: the user's own objects, HSDS ids,
previewed uploads; shared by the access matrix and the hostile-value walk."""
from __future__ import annotations

import io
import re
import secrets as random_tokens
from pathlib import Path

import sqlalchemy as sa

from socialforce.platform.extensions import db
from socialforce.platform.imports.rules import HOUSEHOLDS
from socialforce.platform.imports.uploads import Upload
from socialforce.platform.models import HoursCertificate, ServiceRecord, User, Volunteer, utcnow
from socialforce.platform.services import calendars, certificates, imports
from tests.conftest import IsolatedClient, login
from tests.security.support import owned_ids

CONSTANT_PARAMS = {"fmt": "csv", "key": "households", "figure": "items", "code": "en", "filename": "app.css",
                   "action": "notes", "asset": "swagger-ui.css"}
HSDS_LISTS = {"service_id": "/hsds/services", "org_id": "/hsds/organizations", "taxonomy_id": "/hsds/taxonomies",
              "term_id": "/hsds/taxonomy_terms"}

def hsds_ids(client) -> dict[str, str]:
    """One id of each HSDS list, to fill HSDS routes' parameters."""
    found = {}
    for param, path in HSDS_LISTS.items():
        contents = client.get(path).get_json()["contents"]
        assert contents, f"{path} is empty: cannot fill <{param}>"
        found[param] = contents[0]["id"]
    return found


def import_token(u) -> str:
    """The token of a previewed upload of `u` (one row with errors), to fill <token>."""
    header = ",".join(c.header for c in HOUSEHOLDS.columns) + "\n"
    row = "X1,无此镇,无此村,某,某地,\n"  # one row (a file of headers only is refused), with errors
    upload = imports.store_upload(io.BytesIO((header + row).encode("utf-8-sig")), "households.csv", "households",
                                  u, utcnow())
    imports.preview(upload, u, utcnow())
    return upload.token


def feed_token(u) -> str:
    """A current calendar feed token: the user's own (rotated now), or volunteer1's for anyone else (committed)."""
    owner = u if u is not None and calendars.has_feed_role(u) else db.session.scalar(
        sa.select(User).where(User.username == "volunteer1"))
    token = calendars.rotate_feed(owner, utcnow())
    db.session.commit()
    return token


def certificate_number() -> str:
    """The number of an issued hours certificate (issued now, for a volunteer with confirmed hours, if none is)."""
    number = db.session.scalar(sa.select(HoursCertificate.number).order_by(HoursCertificate.id).limit(1))
    if number is None:
        volunteer = db.session.scalar(sa.select(Volunteer).join(ServiceRecord, ServiceRecord.volunteer_id == Volunteer.id)
                                      .where(ServiceRecord.confirmed_at.is_not(None)).order_by(Volunteer.id).limit(1))
        number = certificates.issue(volunteer, None, utcnow()).number
        db.session.commit()
    return number


class Filler:
    """Fills a rule's parameters for one user: their own objects, or another tenant's."""

    def __init__(self, hsds_ids: dict[str, str], tokens: dict[str, str]):
        self.hsds_ids = hsds_ids
        self.tokens = tokens

    def own(self, rule: str, params: tuple[str, ...], u, portal: str) -> str | None:
        """The URL with the user's own objects, or None if some parameter has no value for this user."""
        url = rule
        for name in params:
            value = self.value(name, u, portal)
            if value is None:
                return None
            url = re.sub(r"<(?:[a-z]+:)?" + name + ">", str(value), url)
        return url

    def value(self, name: str, u, portal: str):
        if name in CONSTANT_PARAMS:
            return CONSTANT_PARAMS[name]
        if name in self.hsds_ids:
            return self.hsds_ids[name]
        if name == "token":
            return self.tokens.get(u.username if u else "", random_tokens.token_hex(16))
        if name == "feed_token":
            return feed_token(u)
        if name == "number":
            return certificate_number()
        if name.endswith("_id"):
            if u is None:
                return 1
            ids = owned_ids(name, u, portal)
            return ids[len(ids) // 2] if ids else None
        raise KeyError(name)


def export_job(app, u) -> int:
    """A finished export job of `u` with its file (the tests run jobs in-process), to fill <job_id>."""
    from socialforce.platform.extensions import db
    from socialforce.platform.services.exports import large

    saved = app.config["EXPORT_DIRECT_MAX_ROWS"]
    app.config["EXPORT_DIRECT_MAX_ROWS"] = -1
    try:
        job_id = large.submit_if_large("orders", "csv", u, {}).id
        db.session.commit()
    finally:
        app.config["EXPORT_DIRECT_MAX_ROWS"] = saved
    return job_id


def discard_job_files(job_ids: list[int]) -> None:
    """Remove the files the export jobs of `export_job` wrote."""
    from socialforce.platform.services.exports import large

    for path in large.files_dir().iterdir():
        if path.name.split("-", 1)[0] in {str(i) for i in job_ids}:
            path.unlink(missing_ok=True)


def discard_uploads(tokens: dict[str, str]) -> None:
    """Remove the uploads `import_token` made."""
    for token in tokens.values():
        upload = Upload.find(token)
        if upload:
            upload.discard_data()
            Path(upload.status_path).unlink(missing_ok=True)


def client_for(app, username: str | None):
    """A test client, logged in as `username` unless it is None."""
    app.test_client_class = IsolatedClient
    client = app.test_client()
    if username:
        assert login(client, username).status_code == 200
    return client
