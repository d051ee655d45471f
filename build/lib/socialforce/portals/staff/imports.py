"""Staff import pages: template download, upload, preview with a row-by-row error report, confirm."""

from __future__ import annotations

from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import SelectField
from wtforms.fields.choices import SelectChoice

from socialforce.platform.extensions import db
from socialforce.platform.imports.messages import kind_label
from socialforce.platform.imports.rules import KINDS
from socialforce.platform.models import BackgroundJob, JobState, utcnow
from socialforce.platform.services import ServiceError, background
from socialforce.platform.services import imports as service
from socialforce.platform.transactions import run_in_transaction
from socialforce.portals import downloads
from socialforce.portals.staff import jobs

ERRORS_PER_PAGE = 100


class UploadForm(FlaskForm):
    file = FileField(_l("File (.xlsx or .csv)"), validators=[FileRequired()])
    kind = SelectField(
        _l("What the CSV file holds"),
        default="",
        choices=[
            SelectChoice("", _l("Detect from the header row")),
            SelectChoice("villages", _l("Villages and communities")),
            SelectChoice("households", _l("Households")),
            SelectChoice("members", _l("Members")),
            SelectChoice("items", _l("Service items")),
            SelectChoice("agencies", _l("Social-work agencies")),
            SelectChoice("units", _l("Pairing units")),
            SelectChoice("contracts", _l("Government-purchase contracts")),
            SelectChoice("pairings", _l("Pairings")),
            SelectChoice("volunteers", _l("Volunteers")),
            SelectChoice("payments", _l("Material-assistance payments")),
            SelectChoice("corrections", _l("Corrections")),
        ],
    )
    volunteer_status = SelectField(
        _l("New volunteers in the file become"),
        default="pending",
        choices=[
            SelectChoice("pending", _l("Pending: staff review each one")),
            SelectChoice("approved", _l("Approved: the national system has already checked them")),
        ],
    )


class ConfirmForm(FlaskForm):
    pass


def _upload_or_404(token: str):
    upload = service.get_upload(token, current_user)
    if upload is None:
        abort(404)
    return upload


def import_page():
    """The upload form and the template download."""
    return render_template(
        "staff/imports/upload.html", form=UploadForm(), max_mb=service.max_bytes() // (1024 * 1024)
    )


def import_template():
    """The import template with Chinese headers and lists of allowed values."""
    return downloads.send("import_template", service.template_xlsx(current_user), "困难家庭导入模板.xlsx")


def import_upload():
    """Save the upload and queue the check of every row; the preview shows its progress, then the result."""
    form = UploadForm()
    try:
        valid = form.validate_on_submit()
    except RequestEntityTooLarge:
        flash(
            _(
                "The file is larger than %(mb)s MB. Split it into smaller files.",
                mb=current_app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024),
            ),
            "danger",
        )
        return redirect(url_for("staff.imports"))
    if not valid:
        flash(_("Choose an .xlsx or .csv file to upload."), "warning")
        return render_template(
            "staff/imports/upload.html", form=form, max_mb=service.max_bytes() // (1024 * 1024)
        ), 400
    try:
        upload = service.store_upload(
            form.file.data.stream,
            form.file.data.filename or "",
            form.kind.data,
            current_user,
            utcnow(),
            {"volunteer_status": form.volunteer_status.data},
        )
    except ServiceError as e:
        flash(e.message, "danger")
        return render_template(
            "staff/imports/upload.html", form=form, max_mb=service.max_bytes() // (1024 * 1024)
        ), e.status
    job = _submitted("import_preview", upload.token)
    if job.state == JobState.failed:  # the worker already refused the file (e.g. damaged): say why right here
        flash(background.error_text(job), "danger")
        return render_template(
            "staff/imports/upload.html", form=form, max_mb=service.max_bytes() // (1024 * 1024)
        ), 400
    if job.state != JobState.done:
        flash(_("The file is being checked in the background; this page shows the result when it is ready."), "info")
        return redirect(url_for("staff.import_preview", token=upload.token))
    status = upload.status()
    if status["state"] == "invalid":
        flash(
            _(
                "The file has %(n)s errors; nothing can be imported until they are fixed.",
                n=status["error_total"],
            ),
            "danger",
        )
    elif status["state"] == "nothing_new":
        flash(
            _("Everything in this file is already in the database; there is nothing new to import."), "info"
        )
    else:
        flash(_("The file is valid. Check the counts and confirm the import."), "success")
    return redirect(url_for("staff.import_preview", token=upload.token))


def import_preview(token: str):
    """Counts, the error report (paged) and the confirm button; the result once imported."""
    upload = _upload_or_404(token)
    status = upload.status()
    job = background.latest_for(token, current_user)
    job_status = background.as_status(job) if job and job.state in (JobState.queued, JobState.running) else None
    errors = status.get("errors", [])
    page = max(request.args.get("page", 1, type=int), 1)
    shown = errors[(page - 1) * ERRORS_PER_PAGE : page * ERRORS_PER_PAGE]
    pages = max((len(errors) + ERRORS_PER_PAGE - 1) // ERRORS_PER_PAGE, 1)
    return render_template(
        "staff/imports/preview.html",
        token=token,
        status=status,
        errors=shown,
        page=page,
        pages=pages,
        form=ConfirmForm(),
        kind_label=kind_label,
        kinds=list(KINDS),
        written_summary=service.written_summary,
        error_message=service.error_message,
        sheet_message=service.sheet_message,
        job_status=job_status,
        job_labels=jobs.labels(),
    )


def import_status(token: str):
    """The upload's state and progress as JSON, with its latest background job's status."""
    status = _upload_or_404(token).status()
    job = background.latest_for(token, current_user)
    response = jsonify(
        state=status.get("state"), progress=status.get("progress"), written=status.get("written"),
        job=background.as_status(job) if job is not None else None,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def import_errors(token: str, fmt: str):
    """The full error report (values masked) as .xlsx or .csv."""
    if fmt not in ("xlsx", "csv"):
        abort(404)
    header, rows = service.error_report(_upload_or_404(token).status())
    return downloads.send_table("import_errors", fmt, _("Import errors"), header, rows)


def import_confirm(token: str):
    """Queue the import of every new row (one transaction in the worker, or nothing) and show its progress."""
    upload = _upload_or_404(token)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if upload.status().get("state") not in ("valid", "failed") or not upload.claim():
        flash(
            _("This file cannot be imported now (it was already imported, is being imported or has errors)."),
            "warning",
        )
        return redirect(url_for("staff.import_preview", token=token))
    job = _submitted("import_confirm", token, ip=request.remote_addr)
    if job.state == JobState.failed:
        flash(background.error_text(job), "danger")
        return redirect(url_for("staff.import_preview", token=token))
    if job.state != JobState.done:
        flash(_("The import runs in the background; you can leave this page and come back."), "info")
        return redirect(url_for("staff.import_preview", token=token))
    written = job.result["written"]
    if any(written.values()):
        flash(_("Imported: %(summary)s.", summary=service.written_summary(written)), "success")
    else:
        flash(_("Everything in this file is already in the database; nothing was imported."), "info")
    return redirect(url_for("staff.import_preview", token=token))


def _submitted(kind: str, token: str, **params) -> BackgroundJob:
    """Queue an import job for this upload and commit; the job as it stands once committed (immediate mode or a
    fast worker may have finished it already)."""
    job_id = run_in_transaction(lambda: background.submit(kind, current_user, subject=token, token=token,
                                                          **params).id)
    return db.session.get(BackgroundJob, job_id, populate_existing=True)
