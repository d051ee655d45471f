"""Staff background jobs: "my jobs" (city staff: every job), one job's progress page, its JSON status, its file."""
from __future__ import annotations

from flask import abort, jsonify, render_template, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from socialforce.platform.models import JobState
from socialforce.platform.services import background
from socialforce.platform.services.exports import large
from socialforce.portals import downloads
from socialforce.portals.page_helpers import paginated

KIND_LABELS = {
    "import_preview": _l("Checking an import file"),
    "import_confirm": _l("Importing a file"),
    "dispatch_batch": _l("Dispatching a page of items"),
    "match_part": _l("Solving one part of a batch"),
    "retrain_ranker": _l("Retraining the ranker"),
    "export_table": _l("Export"),
}
PHASE_LABELS = {
    "validate": _l("Checking rows"), "validate_households": _l("Checking households"),
    "validate_members": _l("Checking members"), "validate_items": _l("Checking service items"),
    "write_households": _l("Writing households"), "write_members": _l("Writing members"),
    "write_enrollments": _l("Writing assistance categories"), "write_items": _l("Writing service items"),
    "assign": _l("Finding the best assignment"), "dispatch": _l("Dispatching"), "train": _l("Training"),
    "read_rows": _l("Reading rows"), "write_rows": _l("Writing rows"),
    "validate_volunteers": _l("Checking volunteers"), "validate_payments": _l("Checking payments"),
    "validate_corrections": _l("Checking corrections"), "write_volunteers": _l("Writing volunteers"),
    "update_volunteers": _l("Updating volunteers"), "write_payments": _l("Writing payments"),
    "write_corrections": _l("Applying corrections"),
    "parts": _l("Parts solved"), "merge": _l("Merging the parts"),
}
STATE_LABELS = {"queued": _l("Waiting"), "running": _l("Running"), "done": _l("Done"), "failed": _l("Failed"),
                "waiting": _l("Waiting for its parts")}


def labels() -> dict:
    """Kind, phase and state words for the templates and the polling script."""
    return {"kinds": {k: str(v) for k, v in KIND_LABELS.items()},
            "phases": {k: str(v) for k, v in PHASE_LABELS.items()},
            "states": {k: str(v) for k, v in STATE_LABELS.items()}}


def result_url(status: dict) -> str | None:
    """Where a finished job's result is shown (the import preview, the matching review), if elsewhere."""
    result = status.get("result") or {}
    if status["kind"] in ("import_preview", "import_confirm") and result.get("token"):
        return url_for("staff.import_preview", token=result["token"])
    return None


def _job_or_404(job_id: int):
    job = background.get_job(job_id, current_user)
    if job is None:
        abort(404)
    return job


def jobs_list():
    """The user's background jobs, newest first (city staff see every job)."""
    page = paginated(background.jobs_query(current_user))
    return render_template("staff/jobs/list.html", page=page, statuses={j.id: background.as_status(j)
                                                                           for j in page.items},
                           labels=labels())


def job_page(job_id: int):
    """One job: a progress bar (phase, rows done of total) while it runs; its result or error once it ended."""
    job = _job_or_404(job_id)
    status = background.as_status(job)
    return render_template("staff/jobs/job.html", job=job, status=status, labels=labels(),
                           result_url=result_url(status))


def job_status(job_id: int):
    """A job's state and progress as JSON (polled by the progress bar)."""
    status = background.as_status(_job_or_404(job_id))
    response = jsonify({**status, "result_url": result_url(status)})
    response.headers["Cache-Control"] = "no-store"
    return response


def job_file(job_id: int):
    """The file a finished export job wrote, to whoever may see the job (audited like every download)."""
    job = _job_or_404(job_id)
    if job.kind != "export_table" or job.state != JobState.done:
        abort(404)
    data = large.read_file(job.result or {})
    if data is None:
        abort(404)
    return downloads.send(job.result.get("table", "export"), data, job.result["filename"],
                          format=job.result.get("format"), rows=job.result.get("rows"), job=job.id)
