"""One person, one ID: an ID typed in full-width digits or with invisible characters is the same ID everywhere."""
from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from socialforce.platform import crypto, idnumber
from socialforce.platform.extensions import db
from socialforce.platform.models import Household, Member, Volunteer
from socialforce.platform.services import households
from tests import factories
from tests.conftest import login
from tests.fixtures.import_files import csv_bytes, person, valid_rows, workbook
from tests.platform import test_imports
from tests.platform.test_imports import MEMBER_HEADER, check, error_set, run
from tests.portals.test_volunteer_signup import form

world = test_imports.world  # the import tests' reference villages, users and one registered household


def test_an_import_stores_hashes_and_masks_the_canonical_id(world):
    rows = valid_rows()
    number = rows["members"][0][2]
    rows["members"][0] = (*rows["members"][0][:2], factories.odd_spelling(number), *rows["members"][0][3:])
    rows["items"][0] = (rows["items"][0][0], factories.odd_spelling(number), *rows["items"][0][2:])
    status = run(workbook(**rows), world["city"])
    assert status["state"] == "done", status.get("errors")
    member = db.session.scalar(sa.select(Member).where(Member.id_number_hash == crypto.id_number_hash(number)))
    assert crypto.decrypt(member.id_number_enc) == number
    assert (member.id_masked, member.id_suffix) == (idnumber.mask(number), number[-4:])


@pytest.mark.parametrize("as_csv", [False, True])
def test_an_oddly_spelled_id_of_a_registered_person_is_recognised(world, as_csv):
    member = ("H001", "李四", factories.odd_spelling(world["existing_id"]), "户主", 0, "", "", "")
    household = [("H001", "龙泉街道", "杏坛社区", "李四", "地址1", "")]
    if as_csv:
        sheet, (_, status) = "members.csv", check(csv_bytes(MEMBER_HEADER, [member]), world["city"],
                                                  "members.csv", "members")
    else:
        sheet, (_, status) = "成员", check(workbook(household, [member]), world["city"])
    assert (sheet, 2, "身份证号", "id_registered_elsewhere") in error_set(status)


def test_two_spellings_of_one_id_in_a_file_are_a_duplicate(world):
    number = person(40)
    households_ = [("H001", "龙泉街道", "杏坛社区", "张三", "地址1", "")]
    members = [("H001", "张三", number, "户主", 0, "", "", ""),
               ("H001", "张三", factories.odd_spelling(number), "子女", 0, "", "", "")]
    _, status = check(workbook(households_, members), world["city"])
    assert ("成员", 3, "身份证号", "duplicate_in_file") in error_set(status)


def test_household_search_finds_a_member_by_any_spelling_of_the_id_or_its_suffix(world, client):
    number = world["existing_id"]
    household_id = db.session.scalar(sa.select(Household.id).where(Household.code == "HDB1"))
    other = factories.household()
    db.session.commit()
    city = world["city"]
    for name, suffix in ((factories.odd_spelling(number), None), (number.lower(), None),
                         (None, "".join(chr(ord(c) + 0xFEE0) for c in number[-4:]).lower())):
        found = db.session.scalars(households.search(city, name, suffix)).all()
        assert [h.id for h in found] == [household_id], (name, suffix)
    assert other.id not in {h.id for h in db.session.scalars(households.search(city, "李四"))}
    login(client, city.username)
    page = client.get("/staff/households", query_string={"q": factories.odd_spelling(number)})
    assert page.status_code == 200 and "HDB1" in page.get_data(as_text=True)


def test_a_volunteer_registered_with_an_odd_spelling_is_stored_canonically(client):
    number = idnumber.make("370481", date(1988, 8, 8), 77)
    response = client.post("/volunteer-signup", data=form(client, id_number=factories.odd_spelling(number)))
    assert response.status_code == 302
    volunteer = db.session.scalar(sa.select(Volunteer))
    assert volunteer.id_number_hash == crypto.lookup_hash(number) and crypto.decrypt(volunteer.id_number_enc) == number
    assert volunteer.id_masked == idnumber.mask(number)
