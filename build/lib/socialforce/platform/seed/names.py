"""Deterministic Chinese names, resident ID numbers and phone numbers, and their protected forms."""
from __future__ import annotations

import hashlib
import hmac
import random
from datetime import date, timedelta

from socialforce.platform import crypto, idnumber

SURNAMES = "张王李刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
# Surname weights roughly following their frequency in Shandong.
SURNAME_WEIGHTS = (9, 10, 10, 8, 5, 4, 4, 3, 3, 2, 3, 4, 2, 2, 3, 1, 1, 2, 2, 1)
MALE_GIVEN = "伟强磊军勇杰涛明刚平辉鹏华飞鑫波斌宇浩凯健俊帆帅旭宁龙林建国志文成庆东兴永广德海"
FEMALE_GIVEN = "芳娜敏静丽艳娟霞秀玲桂英华红梅兰燕萍雪琳洁婷晶颖慧倩玉凤珍云莲荣爱翠"
TENGZHOU = "370481"
OTHER_ZAOZHUANG = ("370402", "370403", "370404", "370405", "370406")
MOBILE_PREFIXES = ("130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152",
                   "155", "157", "158", "159", "176", "177", "178", "180", "181", "182", "186", "187",
                   "188", "189", "198", "199")


def surname(rng: random.Random) -> str:
    """A common surname, weighted by frequency."""
    return rng.choices(SURNAMES, SURNAME_WEIGHTS)[0]


def given_name(rng: random.Random, sex: str) -> str:
    """One or two given-name characters fitting the sex."""
    pool = MALE_GIVEN if sex == "M" else FEMALE_GIVEN
    if rng.random() < 0.35:
        return rng.choice(pool)
    return rng.choice(pool) + rng.choice(pool)


def full_name(rng: random.Random, sex: str, family_name: str | None = None) -> str:
    """A full Chinese name, optionally with a given surname."""
    return (family_name or surname(rng)) + given_name(rng, sex)


def birth_date_for_age(rng: random.Random, today: date, age: int) -> date:
    """A birth date at which a person is exactly `age` years old on `today`."""
    return today - timedelta(days=age * 365 + age // 4 + rng.randrange(1, 364))


def mobile_number(rng: random.Random) -> str:
    """An 11-digit mainland mobile number."""
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


class IdFactory:
    """Builds unique, valid resident ID numbers (check character, birth date and sex consistent)."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.used: set[str] = set()

    def make(self, born: date, sex: str) -> str:
        """A fresh ID for a person born on `born` with sex 'M' or 'F' (odd 17th digit is male)."""
        regions = [TENGZHOU if self.rng.random() < 0.9 else self.rng.choice(OTHER_ZAOZHUANG), TENGZHOU,
                   *OTHER_ZAOZHUANG]
        sequence = self.rng.randrange(500) * 2 + (1 if sex == "M" else 0)
        for region in regions:  # 500 numbers per region, birth date and sex
            for step in range(500):
                number = idnumber.make(region, born, (sequence + 2 * step) % 1000)
                if number not in self.used:
                    self.used.add(number)
                    return number
        raise RuntimeError(f"no free resident ID left for {born}")


class Protector:
    """Encrypts and hashes personal data exactly as the crypto module does, looking its keys up once."""

    def __init__(self):
        self._fernet, self._mac_key = crypto._current_keys()

    def encrypt(self, value: str) -> str:
        """The same token format as crypto.encrypt."""
        return self._fernet.encrypt(value.encode()).decode()

    def id_columns(self, number: str, prefix: str = "id_number") -> dict[str, str]:
        """Encrypted value, lookup hash and masked form of a resident ID."""
        digest = hmac.new(self._mac_key, number.encode(), hashlib.sha256).hexdigest()  # = crypto.lookup_hash
        return {f"{prefix}_enc": self.encrypt(number), f"{prefix}_hash": digest,
                "id_masked": idnumber.mask(number)}

    def phone_columns(self, phone: str | None) -> dict[str, str | None]:
        """Encrypted and masked phone (both None without a phone)."""
        if phone is None:
            return {"phone_enc": None, "phone_masked": None}
        return {"phone_enc": self.encrypt(phone), "phone_masked": crypto.mask_phone(phone)}
