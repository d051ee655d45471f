"""kill -9 of a real worker in the middle of an import job: nothing is half-written, and the job ends retried and
done (exactly once) or, after its last attempt, failed with the reason and the upload free to confirm again."""
from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from socialforce.platform import idnumber, queue
from socialforce.platform.extensions import db
from socialforce.platform.models import BackgroundJob, Household, JobState, Member, User, utcnow
from socialforce.platform.services import background, imports
from tests.fixtures.import_files import setup_world, workbook
from tests.platform.worker_support import kill, real_queue, start_worker, stop, wait_for

ROWS = 3000
FAST = {"JOB_LEASE_SECONDS": "6", "JOB_HEARTBEAT_SECONDS": "0.5", "JOB_MAX_ATTEMPTS": "2"}  # a busy machine's margin


def _counts() -> tuple[int, int]:
    db.session.rollback()
    return (db.session.scalar(sa.select(sa.func.count()).select_from(Household)),
            db.session.scalar(sa.select(sa.func.count()).select_from(Member)))


def _integrity_ok() -> None:
    db.session.rollback()
    if db.engine.dialect.name == "sqlite":
        assert db.session.execute(sa.text("PRAGMA integrity_check")).scalar() == "ok"


def _job(job_id: int) -> BackgroundJob:
    return db.session.get(BackgroundJob, job_id, populate_existing=True)


def _writing(job_id: int, attempt: int):
    """True once the job's attempt is writing rows (its pulse says a write_ phase)."""
    pulse = queue.read_pulse(job_id) or {}
    return _job(job_id).attempts == attempt and pulse.get("phase", "").startswith("write_")


@pytest.fixture
def confirmed(app, tmp_path, monkeypatch):
    """A previewed, valid upload of ROWS households with their heads, claimed for one import."""
    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    setup_world()
    user = db.session.scalar(sa.select(User).where(User.username == "imp_city"))
    households = [(f"K{n:05d}", "龙泉街道", "杏坛社区", f"户主{n}", f"杏坛社区{n}号", "") for n in range(ROWS)]
    members = [(f"K{n:05d}", f"户主{n}", idnumber.make("370481", date(1960, 1, 1 + n % 28), 1000 + n), "户主", 0,
                "低保", "2020-01-01", "") for n in range(ROWS)]
    path = tmp_path / "big.xlsx"
    path.write_bytes(workbook(households=households, members=members))
    with path.open("rb") as stream:
        upload = imports.store_upload(stream, path.name, None, user, utcnow())
    assert imports.preview(upload, user, utcnow())["state"] == "valid"
    assert upload.claim()
    db.session.rollback()
    return user, upload


@pytest.mark.slow
def test_a_killed_import_job_is_retried_and_imports_exactly_once(app, tmp_path, confirmed):
    user, upload = confirmed
    before = _counts()
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    with real_queue(app, url) as huey:
        job_id = background.submit("import_confirm", user, subject=upload.token, token=upload.token).id
        db.session.commit()
        first = start_worker(tmp_path, url, **FAST)
        try:
            wait_for(lambda: _writing(job_id, 1), timeout=120, every=0.02)
        finally:
            kill(first)
        _integrity_ok()
        job = _job(job_id)
        if job.state == JobState.done:  # the kill landed after the commit: all of it, stamped done in one go
            assert _counts() == (before[0] + ROWS, before[1] + ROWS)
        else:
            assert _counts() == before, "a killed import left rows behind"
            assert job.state in (JobState.running, JobState.queued)  # queued: its heartbeat already went stale
        second = start_worker(tmp_path, url, **FAST)
        try:
            job = wait_for(lambda: _job(job_id).state in (JobState.done, JobState.failed) and _job(job_id),
                           timeout=180)
            assert job.state == JobState.done, job.error
            wait_for(lambda: upload.status()["state"] == "done")  # the step after the commit
            queue.enqueue_now(job_id)  # a duplicate message of the finished job
            wait_for(lambda: huey.pending_count() == 0)
        finally:
            log = stop(second)
    assert job.attempts == 2 and job.result["written"]["households"] == ROWS
    assert _counts() == (before[0] + ROWS, before[1] + ROWS)  # exactly once
    assert _job(job_id).attempts == 2
    assert upload.status()["state"] == "done" and not upload.claim()  # the confirm cannot be run again
    assert "re-queued" in log


@pytest.mark.slow
def test_a_job_killed_on_its_last_attempt_fails_with_the_reason_and_writes_nothing(app, tmp_path, confirmed):
    user, upload = confirmed
    before = _counts()
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    with real_queue(app, url):
        job_id = background.submit("import_confirm", user, subject=upload.token, token=upload.token).id
        db.session.commit()
        for attempt in (1, 2):
            worker = start_worker(tmp_path, url, **FAST)
            try:
                wait_for(lambda attempt=attempt: _writing(job_id, attempt), timeout=180, every=0.02)
            finally:
                kill(worker)
            _integrity_ok()
            if _job(job_id).state == JobState.done:
                pytest.skip("the kill landed after the commit (the import finished first)")
            assert _counts() == before
        last = start_worker(tmp_path, url, **FAST)
        try:
            job = wait_for(lambda: _job(job_id).state == JobState.failed and _job(job_id), timeout=60)
            wait_for(lambda: upload.status()["state"] == "failed")  # the upload is given back after the stamp
        finally:
            stop(last)
    assert job.attempts == 2 and job.error.startswith(background.WORKER_LOST)
    assert "2" in background.error_text(job)
    assert _counts() == before
    assert upload.status()["state"] == "failed" and upload.claim()  # free to confirm again
