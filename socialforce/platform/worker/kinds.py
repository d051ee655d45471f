"""Each background job kind and its handler: plain functions calling the services (no Flask request).

`run(job) -> dict` does the work without committing (the runner stamps the job done in the same transaction);
`after(job, result)` runs once that committed; `failed(job, message)` once the job is marked failed.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask_babel import gettext as _

from socialforce.platform.imports.uploads import Upload
from socialforce.platform.models import utcnow
from socialforce.platform.services import ServiceError, background, batch_dispatch, imports, ranker
from socialforce.platform.services.background import WORKER_LOST, RunningJob, Waiting
from socialforce.platform.services.exports import large


@dataclass(frozen=True)
class Handler:
    """What a kind runs, and what happens after it committed or failed."""

    run: Callable[[RunningJob], dict | Waiting]
    after: Callable[[RunningJob, dict], None] | None = None
    failed: Callable[[RunningJob, str], None] | None = None


class JobUpload(Upload):
    """An upload whose import progress is also the job's progress."""

    job: RunningJob | None = None

    def progress(self, stage: str, done: int, total: int) -> None:
        """Record progress in the upload's status and the job's pulse."""
        super().progress(stage, done, total)
        if self.job is not None:
            background.progress(self.job, stage, done, total)


def _upload(job: RunningJob) -> JobUpload:
    upload = JobUpload.find(job.params.get("token", ""))
    if upload is None or not upload.data_path.exists():
        raise ServiceError(_("The uploaded file is no longer there; upload it again."), status=410)
    upload.job = job
    return upload


def _import_preview(job: RunningJob) -> dict:
    status = imports.preview(_upload(job), job.owner, utcnow())
    return {"token": job.params["token"], "state": status["state"], "error_total": status.get("error_total", 0)}


def _import_confirm(job: RunningJob) -> dict:
    written = imports.run_import(_upload(job), job.owner, utcnow(), job.params.get("ip"))
    return {"token": job.params["token"], "written": written}


def _import_confirmed(job: RunningJob, result: dict) -> None:
    upload = JobUpload.find(job.params["token"])
    if upload is not None:
        imports.finish(upload, result["written"])


def _import_failed(job: RunningJob, message: str) -> None:
    upload = JobUpload.find(job.params.get("token", ""))
    if upload is not None:
        if message.startswith(WORKER_LOST):
            message = _("The import was interrupted and nothing was written. Please try again.")
        imports.abandon(upload, message)


def _retrain_ranker(job: RunningJob) -> dict:
    job.report("train", 0, 1)
    result = ranker.retrain(utcnow())
    job.report("train", 1, 1)
    return result


HANDLERS: dict[str, Handler] = {
    "import_preview": Handler(_import_preview),
    "import_confirm": Handler(_import_confirm, after=_import_confirmed, failed=_import_failed),
    "dispatch_batch": Handler(batch_dispatch.run),
    "match_part": Handler(batch_dispatch.run_part, failed=batch_dispatch.part_failed),
    "retrain_ranker": Handler(_retrain_ranker),
    "export_table": Handler(large.write_export),
}


def handler_for(kind: str) -> Handler:
    """The handler of a job kind."""
    return HANDLERS[kind]
