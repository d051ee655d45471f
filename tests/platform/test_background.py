"""Background jobs in-process (Huey immediate mode): submit -> run on commit -> done; ownership; a message
delivered twice runs once; throttled progress; recovery of a job whose worker died; no personal data in params."""
from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from socialforce.platform import queue
from socialforce.platform.extensions import db
from socialforce.platform.models import AuditLog, BackgroundJob, JobState, Role, utcnow
from socialforce.platform.services import background
from socialforce.platform.services.exports import large
from socialforce.platform.worker import runner
from tests import factories


@pytest.fixture
def people(app, tmp_path, monkeypatch):
    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    city = factories.user("bg_city", Role.city_staff)
    town = factories.user("bg_town", Role.town_staff, town_id=factories.town("longquan").id)
    other = factories.user("bg_town2", Role.town_staff, town_id=factories.town("longquan").id)
    for _ in range(3):
        factories.household("longquan")
    db.session.commit()
    return city, town, other


def _job(job_id: int) -> BackgroundJob:
    db.session.rollback()
    return db.session.get(BackgroundJob, job_id, populate_existing=True)


def test_a_submitted_job_runs_once_committed_and_only_its_owner_and_city_staff_see_it(people, app, monkeypatch):
    city, town, other = people
    monkeypatch.setitem(app.config, "EXPORT_DIRECT_MAX_ROWS", 1)
    job = large.submit_if_large("households", "csv", town, {"town": None})
    assert job is not None and job.state == JobState.queued  # nothing runs before the commit
    db.session.commit()
    done = _job(job.id)
    assert done.state == JobState.done and done.attempts == 1 and done.result["rows"] == 3
    assert done.phase == "write_rows" and done.done == 3 and done.finished_at is not None
    assert large.read_file(done.result).decode("utf-8-sig").count("\n") == 4  # header + 3 rows
    assert background.status(job.id, town)["state"] == "done"
    assert background.status(job.id, city)["percent"] == 100
    assert background.status(job.id, other) is None
    assert [j.id for j in db.session.scalars(background.jobs_query(other))] == []


def test_a_rolled_back_submit_sends_nothing(people, app):
    _city, town, _other = people
    job = background.submit("retrain_ranker", town)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(BackgroundJob)) == 0
    db.session.commit()  # the rolled back job is not sent by a later commit either
    assert not db.session.info.get(queue._PENDING_KEY)
    assert job.id is not None


def test_a_message_delivered_twice_runs_once(people, app, monkeypatch):
    _city, town, _other = people
    monkeypatch.setitem(app.config, "EXPORT_DIRECT_MAX_ROWS", 1)
    job_id = large.submit_if_large("households", "xlsx", town, {}).id
    db.session.commit()
    assert runner.execute(job_id) == "skipped"
    queue.enqueue_now(job_id)
    job = _job(job_id)
    assert job.attempts == 1 and job.state == JobState.done
    assert len(list(large.files_dir().iterdir())) == 1


def test_search_text_and_id_suffix_are_sealed_in_the_params(people, app, monkeypatch):
    _city, town, _other = people
    monkeypatch.setitem(app.config, "EXPORT_DIRECT_MAX_ROWS", -1)
    full_id = "370481195003010011"
    job = large.submit_if_large("households", "csv", town, {"q": full_id, "id_suffix": "0011", "town": None})
    stored = json.dumps(job.params)
    assert full_id not in stored and "0011" not in stored and job.params["sealed"]
    db.session.commit()
    assert _job(job.id).state == JobState.done  # the worker opened them: the search ran (and matched nothing)
    assert _job(job.id).result["rows"] == 0


def test_progress_is_stored_at_most_once_a_second_per_phase(people, monkeypatch):
    _city, town, _other = people
    writes = []
    monkeypatch.setattr(queue, "put_pulse", lambda job_id, pulse, store=None: writes.append(dict(pulse)))
    job = background.RunningJob(id=1, kind="export_table", params={}, owner=town, attempt=1)
    for done in range(1, 10_001):
        background.progress(job, "write_rows", done, 20_000)
    assert len(writes) <= 3  # the first and at most one a second
    background.progress(job, "write_rows", 20_000, 20_000)
    background.progress(job, "next_phase", 1, 5)
    assert writes[-2:] == [{"phase": "write_rows", "done": 20_000, "total": 20_000},
                           {"phase": "next_phase", "done": 1, "total": 5}]


def test_the_heartbeat_thread_beats_without_an_app_context(people, caplog):
    _city, town, _other = people
    job = background.RunningJob(id=41, kind="retrain_ranker", params={}, owner=town, attempt=1)
    job.report("train", 0, 1)
    first = queue.read_pulse(41)["beat"]
    with runner._Heartbeat(job, 0.05):
        time.sleep(0.4)
    assert queue.read_pulse(41)["beat"] > first + 0.2
    assert "heartbeat not stored" not in caplog.text
    queue.clear_pulse(41)


def _running(job_id: int, attempts: int, started_ago: float) -> None:
    db.session.execute(sa.update(BackgroundJob).where(BackgroundJob.id == job_id).values(
        state=JobState.running, attempts=attempts, worker="dead:1:1",
        started_at=utcnow() - timedelta(seconds=started_ago)))
    db.session.commit()


def test_a_job_whose_worker_died_is_requeued_then_failed_with_its_reason(people, app, monkeypatch):
    city, town, _other = people
    monkeypatch.setitem(app.config, "JOB_LEASE_SECONDS", 5)
    monkeypatch.setitem(app.config, "JOB_MAX_ATTEMPTS", 2)
    monkeypatch.setitem(app.config, "EXPORT_DIRECT_MAX_ROWS", 1)
    job_id = large.submit_if_large("households", "csv", town, {}).id
    db.session.commit()
    # attempt 1 "died": running, no heartbeat for longer than the lease -> re-queued (and, immediate, re-run)
    _running(job_id, 1, 60)
    queue.put_pulse(job_id, {"phase": "write_rows", "done": 1, "total": 3})
    assert runner.recover(now=time.time() + 1) == {"requeued": [], "failed": [], "resent": []}  # beat is fresh
    assert runner.recover(now=time.time() + 30)["requeued"] == [job_id]
    job = _job(job_id)
    assert job.state == JobState.done and job.attempts == 2
    # a last attempt that died is failed with the reason, never retried again
    _running(job_id, 2, 60)
    queue.clear_pulse(job_id)
    assert runner.recover()["failed"] == [job_id]
    job = _job(job_id)
    assert job.state == JobState.failed and job.error.startswith(background.WORKER_LOST)
    assert "2" in background.error_text(job)
    assert runner.recover() == {"requeued": [], "failed": [], "resent": []}


def test_a_worker_that_lost_its_lease_keeps_nothing(people, app, monkeypatch):
    """The done stamp is fenced by (worker, attempt): a worker whose job was re-queued rolls its writes back."""
    _city, town, _other = people
    from socialforce.platform.worker import kinds

    def work(job):
        db.session.add(AuditLog(action="bg_probe", detail={}))
        db.session.flush()
        # meanwhile another worker took the job over
        with db.engine.begin() as conn:
            conn.execute(sa.update(BackgroundJob).where(BackgroundJob.id == job.id).values(worker="other", attempts=2))
        return {}

    monkeypatch.setitem(kinds.HANDLERS, "retrain_ranker", kinds.Handler(work))
    if db.engine.dialect.name == "sqlite":
        pytest.skip("SQLite holds one writer: the takeover cannot commit while the job's transaction is open")
    job_id = background.submit("retrain_ranker", town).id
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).where(AuditLog.action == "bg_probe")) == 0
    assert _job(job_id).state == JobState.running


def test_a_lost_queued_message_is_sent_again(people, app, monkeypatch):
    _city, town, _other = people
    monkeypatch.setitem(app.config, "JOB_LEASE_SECONDS", 0)
    job = BackgroundJob(kind="retrain_ranker", owner_id=town.id, params={}, state=JobState.queued, phase="",
                        done=0, total=0, attempts=0, created_at=utcnow() - timedelta(seconds=5))
    db.session.add(job)
    db.session.commit()  # not through submit: its message is "lost"
    assert runner.recover()["resent"] == [job.id]
    assert _job(job.id).state == JobState.done


def test_the_weekly_retraining_is_a_job(people, app):
    from socialforce.platform.scheduler.jobs import JOBS
    from socialforce.platform.scheduler.runner import run_job

    spec = next(s for s in JOBS if s.id == "retrain_ranker")
    outcome = run_job(spec, utcnow())
    assert outcome.status == "done" and set(outcome.result) == {"job"}
    job = _job(outcome.result["job"])
    assert job.kind == "retrain_ranker" and job.owner_id is None and job.state == JobState.done
    assert job.result == {"trained": False, "rows": 0}
    city, town, _other = people
    assert background.status(job.id, city) is not None and background.status(job.id, town) is None
