"""Every download is audited: a walk over every GET rule of the url_map, as a user of each portal that may use it,
finds every answer that is a file (Content-Disposition: attachment) and checks it wrote exactly one audit row."""
from __future__ import annotations

import sqlalchemy as sa

from socialforce.platform.extensions import db
from socialforce.platform.models import AuditLog
from tests.security.filling import (
    Filler,
    client_for,
    discard_job_files,
    discard_uploads,
    export_job,
    hsds_ids,
    import_token,
)
from tests.security.support import may_use, routes, user

WALKERS = ("city", "agency1", "worker1", "unit1", "cadre1", "volunteer1")  # one user of every role outside town staff
QUERIES = {"staff.monthly_report": "?month=2026-11"}  # without a month the route shows its form
DOWNLOADS = {  # endpoint -> the audit row's kind
    "staff.export_households": "households", "staff.export_items": "items", "staff.export_orders": "orders",
    "staff.dashboard_export": "dashboard_table", "staff.monthly_report": "monthly_report",
    "staff.import_template": "import_template", "staff.import_errors": "import_errors",
    "staff.job_file": "orders",  # a large export's file, written by a background job
    "agency.visit_ics": "visit_ics", "unit.visit_ics": "visit_ics", "volunteer.visit_ics": "visit_ics",
    "volunteer.task_ics": "task_ics", "volunteer.certificate_pdf": "hours_certificate",
}


def _export_rows() -> list[AuditLog]:
    rows = list(db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "export").order_by(AuditLog.id)))
    db.session.rollback()  # the next read sees what the next request commits
    return rows


def test_every_download_route_writes_one_audit_row(demo, app):
    token = import_token(user("city"))
    db.session.commit()
    jobs = [export_job(app, user("city"))]
    filler = Filler(hsds_ids(client_for(app, None)), {"city": token})
    downloaded: dict[str, int] = {}
    failures: list[str] = []
    try:
        for username in WALKERS:
            u = user(username)
            client = client_for(app, username)
            for route in routes(app):
                if route.method != "GET" or not may_use(u.role, route.endpoint):
                    continue
                portal = route.endpoint.split(".")[0]
                for fmt in (("xlsx", "csv") if "fmt" in route.params else (None,)):
                    url = filler.own(route.rule.replace("<fmt>", fmt or "<fmt>"), route.params, u, portal)
                    if url is None:
                        continue
                    url += QUERIES.get(route.endpoint, "")
                    before = _export_rows()
                    response = client.get(url)
                    is_file = "attachment" in response.headers.get("Content-Disposition", "")
                    response.close()
                    new = _export_rows()[len(before):]
                    if not is_file:
                        if new:
                            failures.append(f"{username} {url}: not a download but audited as one")
                        continue
                    downloaded[route.endpoint] = downloaded.get(route.endpoint, 0) + 1
                    if len(new) != 1:
                        failures.append(f"{username} {url}: {len(new)} audit rows for one download")
                    elif (new[0].user_id, new[0].detail.get("kind"), new[0].ip) != (
                            u.id, DOWNLOADS.get(route.endpoint), "127.0.0.1"):
                        failures.append(f"{username} {url}: audit row {new[0].user_id} {new[0].detail}")
    finally:
        discard_uploads({"city": token})
        discard_job_files(jobs)
    assert not failures, "\n".join(failures)
    assert set(downloaded) == set(DOWNLOADS), f"download routes found: {sorted(downloaded)}"
    formats = {"staff.monthly_report": 1, "staff.import_template": 1, "staff.job_file": 1,  # one walker each
               "volunteer.visit_ics": 1, "volunteer.task_ics": 1, "volunteer.certificate_pdf": 1}
    assert all(downloaded[e] == formats.get(e, 2) for e in DOWNLOADS), downloaded
