"""The confirm of a previewed volunteers or payments file reuses the preview's checked rows (imports/checked.py)."""

from __future__ import annotations

import io
import stat
from datetime import date

import pytest
import sqlalchemy as sa

from socialforce.platform.extensions import db
from socialforce.platform.imports import checked, reading
from socialforce.platform.models import MaterialAssistance, Provider, Volunteer
from socialforce.platform.services import imports as service
from tests.fixtures.import_files import payments_workbook, volunteers_workbook
from tests.platform.test_import_kinds import NOW, count, households_with_heads, run, volunteer
from tests.platform.test_import_kinds import world as world  # noqa: F401 - the fixture


@pytest.fixture
def reads(monkeypatch) -> list[str]:
    """Every time a file is opened to read its sheets (the full check of the rows)."""
    opened: list[str] = []
    original = reading.open_sheets

    def spy(path, *args, **kwargs):
        opened.append(str(path))
        return original(path, *args, **kwargs)

    monkeypatch.setattr(reading, "open_sheets", spy)
    return opened


def previewed(data: bytes, user, options: dict | None = None):
    upload = service.store_upload(io.BytesIO(data), "data.xlsx", None, user, NOW, options)
    status = service.preview(upload, user, NOW)
    db.session.rollback()
    return upload, status


def confirm(upload, user) -> dict:
    assert upload.claim()
    try:
        written = service.run_import(upload, user, NOW)
    except service.ServiceError:
        db.session.rollback()
        upload.release()
        raise
    db.session.commit()
    return service.finish(upload, written)


def test_the_confirm_of_a_previewed_file_does_not_read_it_again(world, reads):
    upload, status = previewed(volunteers_workbook([volunteer(1), volunteer(2)]), world["city"])
    assert status["state"] == "valid" and len(reads) == 1
    kept = checked.path_of(upload.data_path)
    assert kept.exists() and stat.S_IMODE(kept.stat().st_mode) == 0o600
    done = confirm(upload, world["city"])
    assert len(reads) == 1  # the confirm checked the kept rows against the database only
    assert done["written"] == {"volunteers": 2, "volunteers_updated": 0}
    assert count(Volunteer) == 2 and count(Provider) == 2
    assert not kept.exists() and not upload.data_path.exists()  # both hold full ID numbers


def test_a_volunteer_registered_between_preview_and_confirm_is_updated_not_duplicated(world, reads):
    upload, status = previewed(volunteers_workbook([volunteer(1), volunteer(2)]), world["city"])
    assert status["new"] == {"volunteers": 2}
    run(volunteers_workbook([volunteer(1, hours=3)]), world["city"])  # someone imports volunteer 1 meanwhile
    before = len(reads)
    done = confirm(upload, world["city"])
    assert len(reads) == before  # still no second read of the file
    assert done["written"] == {"volunteers": 1, "volunteers_updated": 1}
    assert count(Volunteer) == 2
    hours = db.session.scalar(sa.select(Volunteer.imported_hours).where(Volunteer.national_no == "3704810000000001"))
    assert hours == 12.5


def test_a_row_the_database_now_refuses_is_reported_by_cell_and_nothing_is_written(world, reads):
    upload, status = previewed(volunteers_workbook([volunteer(1), volunteer(2)]), world["city"])
    assert status["state"] == "valid"
    run(volunteers_workbook([volunteer(7, national_no="3704810000000002")]), world["city"])  # takes 2's number
    before = count(Volunteer)
    with pytest.raises(service.ServiceError) as refused:
        confirm(upload, world["city"])
    assert refused.value.status == 409
    assert count(Volunteer) == before
    status = upload.status()
    assert status["state"] == "invalid"
    assert [(e["row"], e["column"], e["code"]) for e in status["errors"]] == [(3, "志愿者编号", "national_no_taken")]
    assert status["errors"][0]["value"]  # the full check named the cell with its (masked) value


def test_a_payment_recorded_since_the_preview_is_seen_at_confirm(world, reads):
    households_with_heads(world)
    rows = [("2024-04", "H001", "", "低保", 650.5, ""), ("2024-05", "H002", "", "特困", 500, "")]
    upload, status = previewed(payments_workbook(rows), world["city"])
    assert status["state"] == "valid" and status["new"] == {"payments": 2}
    run(payments_workbook([("2024-05", "H002", "", "特困", 480, "")]), world["city"])  # another amount, meanwhile
    before = count(MaterialAssistance)
    with pytest.raises(service.ServiceError):
        confirm(upload, world["city"])
    assert count(MaterialAssistance) == before
    assert [(e["row"], e["code"]) for e in upload.status()["errors"]] == [(3, "payment_conflict")]


def test_payments_confirm_from_the_kept_rows(world, reads):
    households_with_heads(world)
    rows = [("2024-04", "H001", "", "低保", 650.5, ""), ("2024-05", "H002", "", "特困", 500, "米面油")]
    upload, _status = previewed(payments_workbook(rows), world["city"])
    before = len(reads)
    done = confirm(upload, world["city"])
    assert len(reads) == before and done["written"] == {"payments": 2}
    paid = db.session.execute(sa.select(MaterialAssistance.month, MaterialAssistance.amount_cents,
                                        MaterialAssistance.in_kind).order_by(MaterialAssistance.month)).all()
    assert [tuple(p) for p in paid] == [(date(2024, 4, 1), 65050, None), (date(2024, 5, 1), 50000, "米面油")]


def test_kept_rows_of_another_file_are_not_used(world, reads):
    upload, _status = previewed(volunteers_workbook([volunteer(1)]), world["city"])
    upload.data_path.write_bytes(volunteers_workbook([volunteer(3)]))  # the file changed on disk
    before = len(reads)
    done = confirm(upload, world["city"])
    assert len(reads) == before + 1  # checked in full
    assert db.session.scalar(sa.select(Volunteer.national_no)) == "3704810000000003"
    assert done["written"]["volunteers"] == 1


def test_a_preview_with_errors_keeps_no_checked_rows(world):
    upload, status = previewed(volunteers_workbook([volunteer(1), volunteer(2, id_type="驾照")]), world["city"])
    assert status["state"] == "invalid"
    assert not checked.path_of(upload.data_path).exists()
    assert not checked.path_of(upload.data_path).with_suffix(".checking").exists()
