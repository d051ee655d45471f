"""GB 11643 resident ID numbers: check character, birth date, masking (property-based)."""
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from socialforce.platform import idnumber

regions = st.sampled_from(["370481", "370402", "110101", "440305"])
births = st.dates(min_value=date(1900, 1, 1), max_value=date(2025, 12, 31))
sequences = st.integers(min_value=0, max_value=999)


@given(regions, births, sequences)
def test_made_numbers_are_valid_and_round_trip(region, born, seq):
    number = idnumber.make(region, born, seq)
    assert idnumber.normalize(number) == number
    assert idnumber.birth_date_of(number) == born
    assert idnumber.sex_of(number) == ("M" if seq % 2 else "F")


@given(regions, births, sequences, st.sampled_from("0123456789X"))
def test_any_other_check_character_is_refused(region, born, seq, wrong):
    number = idnumber.make(region, born, seq)
    if wrong == number[-1]:
        return
    with pytest.raises(idnumber.InvalidIdNumber) as e:
        idnumber.normalize(number[:17] + wrong)
    assert e.value.reason == "check_character"


@given(regions, births, sequences, st.integers(min_value=0, max_value=16), st.integers(min_value=1, max_value=9))
def test_a_single_changed_digit_is_detected(region, born, seq, position, delta):
    number = idnumber.make(region, born, seq)
    digit = (int(number[position]) + delta) % 10
    changed = number[:position] + str(digit) + number[position + 1:]
    assert not idnumber.is_valid(changed)


def test_lowercase_x_is_accepted():
    number = next(idnumber.make("370481", date(1980, 1, 1), s) for s in range(1000)
                  if idnumber.make("370481", date(1980, 1, 1), s).endswith("X"))
    assert idnumber.normalize(number.lower()) == number


@pytest.mark.parametrize("bad, reason", [
    ("37048119800230001X", "birth_date"),  # 30 February
    ("370481198013010011", "birth_date"),  # month 13
    ("3704811980010100", "format"),
    ("37048119800101001Y", "format"),
    ("", "format"),
])
def test_impossible_numbers_give_a_reason(bad, reason):
    with pytest.raises(idnumber.InvalidIdNumber) as e:
        idnumber.normalize(bad)
    assert e.value.reason == reason


def test_a_birth_date_in_the_future_is_refused():
    number = idnumber.make("370481", date.today() + timedelta(days=2), 1)
    with pytest.raises(idnumber.InvalidIdNumber) as e:
        idnumber.normalize(number)
    assert e.value.reason == "birth_date"


@given(regions, births, sequences)
def test_mask_keeps_only_first_and_last_four(region, born, seq):
    number = idnumber.make(region, born, seq)
    masked = idnumber.mask(number)
    assert masked == number[:4] + "*" * 10 + number[-4:]
    assert len(masked) == 18
