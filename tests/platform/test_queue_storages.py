"""The queue on both storages (SQLite file, Redis DB 5) with a real worker process: an import previewed and
confirmed through the pages' jobs, progress readable from another process, and a duplicate message run once."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from socialforce.platform import queue
from socialforce.platform.extensions import db
from socialforce.platform.models import BackgroundJob, Household, JobState, User, utcnow
from socialforce.platform.services import background, imports
from tests.fixtures.import_files import setup_world, valid_rows, workbook
from tests.platform.worker_support import REDIS_URL, real_queue, redis_available, start_worker, stop, wait_for


@pytest.fixture(params=["sqlite", "redis"])
def queue_url(request, tmp_path):
    if request.param == "redis":
        if not redis_available():
            pytest.skip("Redis is not running on 127.0.0.1:6379")
        return REDIS_URL
    return f"sqlite:///{tmp_path / 'queue.db'}"


def _state(job_id: int):
    job = db.session.get(BackgroundJob, job_id, populate_existing=True)
    return job if job.state in (JobState.done, JobState.failed) else None


@pytest.mark.slow
def test_a_real_worker_runs_preview_and_import_on_each_storage(app, tmp_path, monkeypatch, queue_url):
    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    setup_world()
    user = db.session.scalar(sa.select(User).where(User.username == "imp_city"))
    before = db.session.scalar(sa.select(sa.func.count()).select_from(Household))
    path = tmp_path / "h.xlsx"
    path.write_bytes(workbook(**valid_rows()))
    with real_queue(app, queue_url) as huey:
        with path.open("rb") as stream:
            upload = imports.store_upload(stream, path.name, None, user, utcnow())
        preview = background.submit("import_preview", user, subject=upload.token, token=upload.token)
        db.session.commit()
        assert huey.pending_count() == 1 and queue.pending_job_ids() == {preview.id}
        worker = start_worker(tmp_path, queue_url, MATCH_THREADS="1")
        try:
            job = wait_for(lambda: _state(preview.id))
            assert job.state == JobState.done and job.result["state"] == "valid", job.error
            assert upload.claim()
            confirm = background.submit("import_confirm", user, subject=upload.token, token=upload.token,
                                        ip="127.0.0.1")
            db.session.commit()
            job = wait_for(lambda: _state(confirm.id))
            assert job.state == JobState.done and job.result["written"]["households"] == 2, job.error
            wait_for(lambda: upload.status()["state"] == "done")  # the after-commit step ran in the worker
            queue.enqueue_now(confirm.id)  # the same message again: claimed by nobody, imports nothing
            wait_for(lambda: huey.pending_count() == 0)
        finally:
            log = stop(worker)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Household)) == before + 2
    assert db.session.get(BackgroundJob, confirm.id, populate_existing=True).attempts == 1
    assert "worker started on " + ("RedisStorage" if "redis" in queue_url else "SqliteStorage") in log
    assert "matching on 1 thread(s)" in log  # MATCH_THREADS reached the worker's engine
    assert "370481" not in log  # no ID number in the worker's log


def test_pulses_are_shared_through_the_storage(app, tmp_path, queue_url):
    with real_queue(app, queue_url):
        queue.put_pulse(7, {"phase": "write_members", "done": 5, "total": 10})
        other = queue.build_huey(app)  # another process's view of the same storage
        assert other.get("job:7", peek=True)["done"] == 5
        queue.clear_pulse(7)
        assert queue.read_pulse(7) is None
