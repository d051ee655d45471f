"""Organisations under concurrency: staff saving the same pairing, or overlapping contracts of one agency, at the
same moment get exactly one row; the others are refused cleanly (on SQLite and PostgreSQL)."""
from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from socialforce.platform.extensions import db
from socialforce.platform.localtime import today
from socialforce.platform.models import Agency, Contract, Pairing, PairingUnit, ProviderKind, Role, User
from socialforce.platform.services import organisations as orgs
from socialforce.platform.transactions import run_in_transaction
from tests import factories

pytestmark = pytest.mark.slow
THREADS, RUNS = 6, 3


def race(app, work) -> tuple[list[str], list[BaseException]]:
    """Run work(actor) from THREADS threads at once (each its own city staff); outcomes 'won' or 'refused'."""
    actors = [factories.user(f"racer{n}-{next(factories._seq)}", Role.city_staff).id
              for n in range(THREADS)]
    db.session.commit()
    barrier = threading.Barrier(THREADS)
    outcomes: list[str] = [""] * THREADS
    errors: list[BaseException] = []

    def attempt(index: int) -> None:
        with app.app_context():
            actor = db.session.get(User, actors[index])
            db.session.commit()  # end the read transaction before racing
            barrier.wait()
            try:
                run_in_transaction(lambda: work(actor, index))
                outcomes[index] = "won"
            except (orgs.OrganisationInvalid, sa.exc.IntegrityError):
                outcomes[index] = "refused"
            except BaseException as e:  # noqa: BLE001 - collected and asserted below
                errors.append(e)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return outcomes, errors


def test_the_same_pairing_saved_at_once_is_recorded_once(app):
    unit = factories.provider(ProviderKind.unit, "并发结对单位")
    db.session.add(PairingUnit(provider_id=unit.id, unit_type="department"))
    for run in range(RUNS):
        household = factories.household()
        code, unit_id = household.code, unit.id
        data = orgs.PairingInput(household_code=code, unit_provider_id=unit_id, cadre_id=None,
                                 monthly_visit_quota=None, quota_given=False, since=today() - timedelta(days=1))
        outcomes, errors = race(app, lambda actor, _i, data=data: orgs.create_pairing(data, actor, today()))
        assert errors == [], f"run {run}: {errors[:3]}"
        assert sorted(outcomes) == ["refused"] * (THREADS - 1) + ["won"], f"run {run}"
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Pairing).where(
            Pairing.household_id == household.id)) == 1


def test_overlapping_contracts_of_one_agency_saved_at_once_are_recorded_once(app):
    provider = factories.provider(ProviderKind.agency, "并发合同机构")
    agency = Agency(provider_id=provider.id, licence_no="L-RACE", contact_name="某")
    db.session.add(agency)
    db.session.flush()
    agency_id, category_id = agency.id, factories.category("counselling").id
    for run in range(RUNS):
        start = date(2030 + run, 1, 1)

        def create(actor, index, start=start, run=run):
            data = orgs.ContractInput(code=f"RACE-{run}-{index}", title="并发合同", starts_on=start,
                                      ends_on=start.replace(month=12, day=31), budget_yuan="1000",
                                      purchased_hours=100.0, category_ids=(category_id,))
            return orgs.create_contract(db.session.get(Agency, agency_id), data, actor)

        outcomes, errors = race(app, create)
        assert errors == [], f"run {run}: {errors[:3]}"
        assert sorted(outcomes) == ["refused"] * (THREADS - 1) + ["won"], f"run {run}"
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Contract).where(
            Contract.starts_on == start)) == 1
