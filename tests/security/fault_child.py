"""A child process for the fault tests: runs one real operation against DATABASE (argv) and may be SIGKILLed.

usage: python -m tests.security.fault_child import|dispatch|job DATABASE_URL [FILE]
Prints "ready" when the app is built and the operation starts, and "done" after its commit.
"""
from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from socialforce import create_app
from socialforce.platform.extensions import db
from socialforce.platform.models import ItemStatus, Order, OrderState, ServiceItem, User, utcnow

NOW_SHIFT = timedelta(days=3)  # the job runs "three days later", past every response deadline


def run_import(path: Path) -> None:
    from socialforce.platform.services import imports

    user = db.session.scalar(sa.select(User).where(User.username == "imp_city"))
    with path.open("rb") as stream:
        upload = imports.store_upload(stream, path.name, None, user, utcnow())
    if imports.preview(upload, user, utcnow())["state"] != "valid":  # e.g. nothing new: as the import page does
        return
    written = imports.run_import(upload, user, utcnow())
    db.session.commit()
    imports.finish(upload, written)


def run_dispatch(provider_id: int) -> None:
    from socialforce.platform.services import dispatch

    items = db.session.scalars(sa.select(ServiceItem).where(ServiceItem.status == ItemStatus.open)
                               .order_by(ServiceItem.id)).all()
    for item in items:  # one transaction over the whole batch
        dispatch.dispatch(item, dispatch.Choice(provider_id=provider_id), None)
    db.session.commit()


def run_job() -> None:
    from socialforce.platform.scheduler.jobs import JobSpec
    from socialforce.platform.scheduler.runner import run_job as run

    spec = JobSpec("sweep_overdue", "socialforce.platform.services.dispatch:sweep_overdue", {"minute": "*"},
                   "minute", 50)
    due = db.session.scalar(sa.select(sa.func.max(Order.response_due_at)).where(Order.state == OrderState.dispatched))
    outcome = run(spec, (due or utcnow()) + NOW_SHIFT)
    assert outcome.status in ("done", "skipped"), outcome


def main(op: str, url: str, arg: str | None = None) -> None:
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url, MAX_DISPATCH_FAILURES=1,
                     SCHEDULER_STALE_RUN_SECONDS=0)
    with app.app_context():
        print("ready", flush=True)
        if op == "import":
            run_import(Path(arg))
        elif op == "dispatch":
            run_dispatch(int(arg))
        elif op == "job":
            run_job()
        else:
            raise SystemExit(f"unknown operation {op}")
        print("done", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
