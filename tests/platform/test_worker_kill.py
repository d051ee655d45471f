"""kill -9 of a real worker in the middle of an import job (households, organisations, volunteers): nothing is
half-written, and the job ends retried and done (exactly once) or, after its last attempt, failed with the reason
and the upload free to confirm again."""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import pytest
import sqlalchemy as sa

from socialforce.platform import idnumber, queue
from socialforce.platform.extensions import db
from socialforce.platform.models import (
    BackgroundJob,
    Household,
    JobState,
    Member,
    PairingUnit,
    Provider,
    User,
    Volunteer,
    utcnow,
)
from socialforce.platform.services import background, imports
from tests.fixtures.import_files import (
    credit_code,
    organisations_workbook,
    setup_world,
    volunteers_workbook,
    workbook,
)
from tests.platform.worker_support import kill, real_queue, start_worker, stop, wait_for

FAST = {"JOB_LEASE_SECONDS": "6", "JOB_HEARTBEAT_SECONDS": "0.5", "JOB_MAX_ATTEMPTS": "2"}  # a busy machine's margin


def _households(rows: int) -> bytes:
    households = [(f"K{n:05d}", "龙泉街道", "杏坛社区", f"户主{n}", f"杏坛社区{n}号", "") for n in range(rows)]
    members = [(f"K{n:05d}", f"户主{n}", idnumber.make("370481", date(1960, 1, 1 + n % 28), 1000 + n), "户主", 0,
                "低保", "2020-01-01", "") for n in range(rows)]
    return workbook(households=households, members=members)


def _units(rows: int) -> bytes:
    """Pairing units, each registered through the organisation service (one at a time, audited)."""
    return organisations_workbook(units=[[f"滕州市结对单位{n}", credit_code(n, "11"), "党政机关", "滕州市人民政府",
                                          "荆河街道", "荆河街道", 2] for n in range(rows)])


def _volunteers(rows: int) -> bytes:
    """The national volunteer system's export; written in chunks of 5,000, so a kill can land between chunks."""
    return volunteers_workbook([[f"志愿者{n}", "身份证", idnumber.make("370481", date(1980, 1, 1 + n % 28), n // 28),
                                 f"139{n:08d}", f"37048100{n:08d}", "2019-05-12", 12.5, "", "关爱老人", "龙泉街道"]
                                for n in range(rows)])


@dataclass(frozen=True)
class Case:
    kind: str  # the written count that names the import
    rows: int
    build: Callable[[int], bytes]
    tables: tuple  # two models whose rows the import adds, one each per imported row


CASES = {
    "households": Case("households", 3000, _households, (Household, Member)),
    "organisations": Case("units", 1000, _units, (PairingUnit, Provider)),
    "volunteers": Case("volunteers", 12000, _volunteers, (Volunteer, Provider)),
}


ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith("postgres")


@pytest.fixture(params=list(CASES))
def case(request) -> Case:
    """Each import family the kill -9 test covers; on PostgreSQL the households one only (the same worker path,
    the two longer kinds run once, on SQLite, to keep CI short)."""
    if ON_POSTGRES and request.param != "households":
        pytest.skip("run on SQLite only: same kill -9 path as the households case")
    return CASES[request.param]


def _counts(case: Case) -> tuple[int, int]:
    db.session.rollback()
    return tuple(db.session.scalar(sa.select(sa.func.count()).select_from(model)) for model in case.tables)


def _added(before: tuple[int, int], case: Case) -> tuple[int, int]:
    return (before[0] + case.rows, before[1] + case.rows)


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
def confirmed(app, tmp_path, monkeypatch, case):
    """A previewed, valid upload of the case's rows, claimed for one import."""
    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    setup_world()
    user = db.session.scalar(sa.select(User).where(User.username == "imp_city"))
    path = tmp_path / "big.xlsx"
    path.write_bytes(case.build(case.rows))
    with path.open("rb") as stream:
        upload = imports.store_upload(stream, path.name, None, user, utcnow())
    status = imports.preview(upload, user, utcnow())
    assert status["state"] == "valid", status.get("errors", [])[:3]
    assert upload.claim()
    db.session.rollback()
    return user, upload


@pytest.mark.slow
def test_a_killed_import_job_is_retried_and_imports_exactly_once(app, tmp_path, case, confirmed):
    user, upload = confirmed
    before = _counts(case)
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
            assert _counts(case) == _added(before, case)
        else:
            assert _counts(case) == before, "a killed import left rows behind"
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
    assert job.attempts == 2 and job.result["written"][case.kind] == case.rows
    assert _counts(case) == _added(before, case)  # exactly once
    assert _job(job_id).attempts == 2
    assert upload.status()["state"] == "done" and not upload.claim()  # the confirm cannot be run again
    assert "re-queued" in log


@pytest.mark.slow
def test_a_job_killed_on_its_last_attempt_fails_with_the_reason_and_writes_nothing(app, tmp_path, case, confirmed):
    user, upload = confirmed
    before = _counts(case)
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
            assert _counts(case) == before
        last = start_worker(tmp_path, url, **FAST)
        try:
            job = wait_for(lambda: _job(job_id).state == JobState.failed and _job(job_id), timeout=60)
            wait_for(lambda: upload.status()["state"] == "failed")  # the upload is given back after the stamp
        finally:
            stop(last)
    assert job.attempts == 2 and job.error.startswith(background.WORKER_LOST)
    assert "2" in background.error_text(job)
    assert _counts(case) == before
    assert upload.status()["state"] == "failed" and upload.claim()  # free to confirm again
