"""The background job pages: a large export becomes a job with a progress page and an audited download for its
owner only; "my jobs"; the JSON status; the import preview shows a running job's progress bar."""
from __future__ import annotations

import io
import re

import pytest
import sqlalchemy as sa

from socialforce.platform.extensions import db
from socialforce.platform.models import AuditLog, BackgroundJob, JobState, Role, User, utcnow
from socialforce.platform.services import imports
from tests import factories
from tests.conftest import login
from tests.fixtures.import_files import setup_world, valid_rows, workbook


@pytest.fixture
def staff(app, tmp_path, monkeypatch):
    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    monkeypatch.setitem(app.config, "EXPORT_DIRECT_MAX_ROWS", 2)
    lq = factories.town("longquan").id
    factories.user("jp_town", Role.town_staff, town_id=lq)
    factories.user("jp_town2", Role.town_staff, town_id=lq)
    factories.user("jp_city", Role.city_staff)
    for _ in range(3):
        factories.household("longquan")
    db.session.commit()


def _client(app, username):
    from tests.conftest import IsolatedClient

    app.test_client_class = IsolatedClient
    client = app.test_client()
    assert login(client, username).status_code == 200
    return client


def test_a_large_export_is_a_job_whose_file_only_its_owner_and_city_staff_download(app, staff):
    owner = _client(app, "jp_town")
    response = owner.get("/staff/export/households.csv")
    assert response.status_code == 302
    job_url = response.headers["Location"]
    job_id = int(re.search(r"/staff/jobs/(\d+)$", job_url).group(1))
    page = owner.get(job_url).get_data(as_text=True)
    assert 'id="job-download"' in page and 'id="job-done"' in page
    status = owner.get(f"{job_url}/status").get_json()
    assert (status["state"], status["percent"], status["done"], status["total"]) == ("done", 100, 3, 3)
    assert status["result"]["rows"] == 3 and status["kind"] == "export_table"
    assert f"/staff/jobs/{job_id}" in owner.get("/staff/jobs").get_data(as_text=True)

    before = db.session.scalar(sa.select(sa.func.count()).where(AuditLog.action == "export"))
    download = owner.get(f"{job_url}/file")
    assert download.status_code == 200 and "attachment" in download.headers["Content-Disposition"]
    assert download.data.decode("utf-8-sig").count("\n") == 4
    db.session.rollback()
    rows = list(db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "export").order_by(AuditLog.id)))
    assert len(rows) == before + 1 and rows[-1].detail["kind"] == "households" and rows[-1].detail["job"] == job_id

    other = _client(app, "jp_town2")
    for url in (job_url, f"{job_url}/status", f"{job_url}/file"):
        assert other.get(url).status_code == 404
    assert f"/staff/jobs/{job_id}" not in other.get("/staff/jobs").get_data(as_text=True)
    city = _client(app, "jp_city")
    assert city.get(job_url).status_code == 200 and city.get(f"{job_url}/status").status_code == 200
    assert city.get(f"{job_url}/file").status_code == 200  # city staff see every town's rows anyway


def test_a_small_export_is_sent_directly(app, staff, monkeypatch):
    monkeypatch.setitem(app.config, "EXPORT_DIRECT_MAX_ROWS", 10_000)
    response = _client(app, "jp_town").get("/staff/export/households.xlsx")
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(BackgroundJob)) == 0


def test_the_preview_page_shows_the_progress_of_a_job_still_running(app, tmp_path, monkeypatch):
    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    setup_world()
    client = _client(app, "imp_city")
    user = db.session.scalar(sa.select(User).where(User.username == "imp_city"))
    upload = imports.store_upload(io.BytesIO(workbook(**valid_rows())), "h.xlsx", None, user, utcnow())
    job = BackgroundJob(kind="import_preview", owner_id=user.id, subject=upload.token, params={"token": upload.token},
                        state=JobState.running, phase="", done=0, total=0, attempts=1, created_at=utcnow())
    db.session.add(job)
    db.session.commit()
    page = client.get(f"/staff/imports/{upload.token}").get_data(as_text=True)
    assert "data-job-progress" in page and "jobs.js" in page and 'id="confirm-form"' not in page
    assert f"/staff/jobs/{job.id}/status" in page
    status = client.get(f"/staff/imports/{upload.token}/status").get_json()
    assert status["job"]["state"] == "running" and status["job"]["id"] == job.id
