"""Unified social credit codes (GB 32100-2015): real published codes pass, every kind of damage is caught."""
import pytest

from socialforce.platform import uscc

# The standard's own example, and codes printed on published business licences (Huawei Technologies Co., Ltd.;
# Alibaba (China) Co., Ltd.), one with the check character 0 case checked separately below.
PUBLISHED = ("91350100M000100Y43", "914403001922038216", "91330100716105852F")


@pytest.mark.parametrize("code", PUBLISHED)
def test_published_codes_are_valid(code):
    assert uscc.is_valid(code)
    assert uscc.normalize(code) == code


def test_every_single_character_change_is_caught():
    code = PUBLISHED[0]
    for position in range(18):
        for replacement in uscc.ALPHABET:
            if replacement == code[position]:
                continue
            changed = code[:position] + replacement + code[position + 1:]
            if position in range(2, 8) and not replacement.isdigit():
                continue  # caught as a division error, checked below
            assert not uscc.is_valid(changed), changed


def test_swapping_two_neighbours_is_caught():
    code = PUBLISHED[1]
    for i in range(16):
        if code[i] != code[i + 1]:
            swapped = code[:i] + code[i + 1] + code[i] + code[i + 2:]
            assert not uscc.is_valid(swapped), swapped


@pytest.mark.parametrize(("raw", "reason"), [
    ("91350100M000100Y4", "length"),
    ("91350100M000100Y433", "length"),
    ("", "length"),
    ("91350100M000100I43", "characters"),  # I, O, S, V, Z are not in the alphabet
    ("91350100M000100O43", "characters"),
    ("913501-0M000100Y43", "characters"),
    ("9135A100M000100Y43", "division"),
    ("91350100M000100Y44", "check_character"),
])
def test_refusals_say_what_is_wrong(raw, reason):
    with pytest.raises(uscc.InvalidCreditCode) as error:
        uscc.normalize(raw)
    assert error.value.reason == reason


def test_full_width_lower_case_and_spaces_are_the_same_code():
    typed = " ９１３５０１００m０００１００y４３\u200b "
    assert uscc.normalize(typed) == PUBLISHED[0]


def test_a_remainder_of_zero_gives_the_check_character_zero():
    # find a prefix whose weighted sum is a multiple of 31: 31 - 0 = 31, written as 0
    def weighted(prefix: str) -> int:
        return sum(uscc.ALPHABET.index(c) * w for c, w in zip(prefix, uscc.WEIGHTS, strict=True))

    prefix = next(p for p in (f"5237048{n:010d}" for n in range(10_000)) if weighted(p) % 31 == 0)
    assert uscc.check_character(prefix) == "0"
    assert uscc.is_valid(uscc.make(prefix))
