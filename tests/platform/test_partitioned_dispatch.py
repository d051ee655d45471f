"""A batch dispatch split into independent parts: one `match_part` job per part (any worker), the batch waiting
(progress = parts done / total), merged and dispatched in one transaction once every part is done; a failed part
fails the batch with its reason and nothing is dispatched."""
from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from socialforce.platform import queue
from socialforce.platform.extensions import db
from socialforce.platform.models import BackgroundJob, JobState, Order, Role, ServiceItem
from socialforce.platform.services import ServiceError, background, batch_dispatch, matching
from socialforce.platform.worker import runner
from tests import factories
from tests.conftest import login


@pytest.fixture
def sent(app, tmp_path, monkeypatch):
    """Jobs go to a list instead of running at once, so the test runs them, in any order, like several workers."""
    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    out: list[int] = []
    monkeypatch.setattr(queue, "enqueue_now", out.append)
    return out


@pytest.fixture
def two_towns(app):
    """Two counselling items in 龙泉街道 and one in 柴胡店镇 (about 20 km away), each town with its own agency:
    no offer crosses, so the batch has two independent parts."""
    staff = factories.user("part_city", Role.city_staff)
    near, _ = factories.agency("龙泉社工", "longquan", slots=2)
    far, _ = factories.agency("柴胡店社工", "chaihudian", slots=1)
    items = [factories.item(factories.household("longquan"), "counselling", description="需要心理疏导"),
             factories.item(factories.household("longquan"), "counselling", description="需要心理疏导"),
             factories.item(factories.household("chaihudian"), "counselling", description="需要心理疏导")]
    db.session.commit()
    matching.invalidate()
    return staff, near, far, items


def _job(job_id: int) -> BackgroundJob:
    db.session.rollback()
    return db.session.get(BackgroundJob, job_id, populate_existing=True)


def _orders() -> int:
    db.session.rollback()
    return db.session.scalar(sa.select(sa.func.count()).select_from(Order))


def _client(app, username):
    from tests.conftest import IsolatedClient

    app.test_client_class = IsolatedClient
    client = app.test_client()
    assert login(client, username).status_code == 200
    return client


def test_a_batch_split_in_two_parts_waits_for_both_and_dispatches_everything_at_once(app, sent, two_towns):
    staff, near, far, items = two_towns
    ids = [it.id for it in items]
    unpartitioned = matching.assign_items(items)
    batch = batch_dispatch.submit(ids, staff)
    db.session.commit()
    assert sent == [batch.id]
    assert runner.execute(sent.pop()) == "waiting"
    parent = _job(batch.id)
    assert parent.state == JobState.waiting and (parent.done, parent.total) == (0, 2)
    parts = sorted(sent)
    assert len(parts) == 2 and {_job(p).kind for p in parts} == {"match_part"}
    assert sorted(len(_job(p).params["item_ids"]) for p in parts) == [1, 2]
    sent.clear()

    assert runner.execute(parts[1]) == "done"  # any order, any worker
    status = background.status(batch.id, staff)
    assert status["state"] == "waiting" and (status["done"], status["total"], status["percent"]) == (1, 2, 50)
    page = _client(app, "part_city").get(f"/staff/jobs/{batch.id}")
    assert page.status_code == 200 and b"data-job-progress" in page.data  # the page keeps polling
    assert _orders() == 0 and sent == []  # nothing applied while a part is missing

    assert runner.execute(parts[0]) == "done"
    assert sent == [batch.id] and _job(batch.id).state == JobState.queued
    assert runner.execute(sent.pop()) == "done"
    done = _job(batch.id)
    assert done.result["dispatched"] == 3 and done.result["parts"] == 2
    assert _orders() == 3
    provider_of = dict(db.session.execute(sa.select(Order.item_id, Order.provider_id)).all())
    assert provider_of == {i: c.provider_id for i, c in unpartitioned.items()}
    assert provider_of[items[2].id] == far.id and provider_of[items[0].id] == near.id
    # the certificate: utility and bound per part and in total
    per_part = done.result["per_part"]
    assert sorted(p["items"] for p in per_part) == [1, 2]
    assert done.result["utility"] == pytest.approx(sum(p["utility"] for p in per_part), abs=1e-5)
    assert done.result["lp_bound"] == pytest.approx(sum(p["lp_bound"] for p in per_part), abs=1e-5)
    assert done.result["utility"] <= done.result["lp_bound"] + 1e-6
    assert all(db.session.get(ServiceItem, i).status != "open" for i in ids)
    # a message delivered twice runs once: the parts and the batch are ended
    assert {runner.execute(p) for p in parts} | {runner.execute(batch.id)} == {"skipped"}
    assert _orders() == 3


def test_a_failed_part_fails_the_batch_with_its_reason_and_nothing_is_dispatched(sent, two_towns, monkeypatch):
    staff, _near, _far, items = two_towns
    batch = batch_dispatch.submit([it.id for it in items], staff)
    db.session.commit()
    runner.execute(sent.pop())
    first, second = sorted(sent)
    sent.clear()
    assert runner.execute(first) == "done"

    def broken(item_ids, now):
        raise ServiceError("no offers could be read")

    monkeypatch.setattr(matching, "assign_part", broken)
    assert runner.execute(second) == "failed"
    failed = _job(batch.id)
    assert failed.state == JobState.failed and sent == []
    assert failed.error == "part_failed:2:no offers could be read"  # part 2 of 2, and the part's own reason
    assert "no offers could be read" in background.error_text(failed)
    assert "part_failed" not in background.error_text(failed)
    assert _orders() == 0
    assert all(db.session.get(ServiceItem, it.id).status == "open" for it in items)


def test_a_part_whose_worker_died_is_retried_then_fails_the_batch(sent, two_towns, app, monkeypatch):
    staff, _near, _far, items = two_towns
    batch = batch_dispatch.submit([it.id for it in items], staff)
    db.session.commit()
    runner.execute(sent.pop())
    first, second = sorted(sent)
    sent.clear()
    runner.execute(first)
    lease = float(app.config["JOB_LEASE_SECONDS"])
    for attempt in (1, 2):  # the part is claimed, its worker dies (no heartbeat): re-queued once, then given up
        assert runner._claim(second, "dead-worker") == attempt
        queue.clear_pulse(second)
        outcome = runner.recover(now=time.time() + lease * 10)
        if attempt == 1:
            assert outcome["requeued"] == [second] and _job(second).state == JobState.queued
            assert _job(batch.id).state == JobState.waiting
        else:
            assert outcome["failed"] == [second]
    failed = _job(batch.id)
    assert failed.state == JobState.failed
    assert failed.error == "part_failed:2:worker_lost:2"
    assert "worker_lost" not in background.error_text(failed)
    assert _orders() == 0


def test_one_part_is_solved_in_the_batch_job_itself(sent, app):
    staff = factories.user("part_city1", Role.city_staff)
    factories.agency("龙泉社工", "longquan", slots=2)
    items = [factories.item(factories.household("longquan"), "counselling", description="需要心理疏导")
             for _ in range(2)]
    db.session.commit()
    matching.invalidate()
    batch = batch_dispatch.submit([it.id for it in items], staff)
    db.session.commit()
    assert runner.execute(sent.pop()) == "done" and sent == []
    assert _job(batch.id).result["dispatched"] == 2 and _orders() == 2


def test_match_parts_max_one_keeps_every_batch_in_one_job(sent, two_towns, app, monkeypatch):
    staff, _near, _far, items = two_towns
    monkeypatch.setitem(app.config, "MATCH_PARTS_MAX", 1)
    batch = batch_dispatch.submit([it.id for it in items], staff)
    db.session.commit()
    assert runner.execute(sent.pop()) == "done" and sent == []
    assert _job(batch.id).result["dispatched"] == 3 and _orders() == 3


def test_in_immediate_mode_the_parts_and_the_merge_run_as_the_batch_commits(app, two_towns, tmp_path, monkeypatch):
    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    staff, _near, _far, items = two_towns
    batch = batch_dispatch.submit([it.id for it in items], staff)
    db.session.commit()
    done = _job(batch.id)
    assert done.state == JobState.done and done.result["parts"] == 2 and done.result["dispatched"] == 3
    parts = db.session.scalars(sa.select(BackgroundJob).where(BackgroundJob.kind == "match_part")).all()
    assert len(parts) == 2 and {p.state for p in parts} == {JobState.done}
    assert _orders() == 3
