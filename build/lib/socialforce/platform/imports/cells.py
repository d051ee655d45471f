"""Turning spreadsheet cells into checked values; each parser raises CellError with a reason code."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from socialforce.platform import idnumber, weekmask

FORMULA_TRIGGERS = ("=", "+", "-", "@")
_SCIENTIFIC = re.compile(r"^\d+(\.\d+)?[eE][+-]?\d+$")
_DECIMAL_ZERO = re.compile(r"^\d{15,18}\.0+$")
_ISO_DATE = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")
_PHONE = re.compile(r"^(1\d{10}|0\d{9,11}|\d{7,8})$")
_SEPARATORS = re.compile(r"[、,，;；/\s]+")
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日")

PRIORITIES = {
    "普通": "normal",
    "一般": "normal",
    "高": "high",
    "较高": "high",
    "紧急": "urgent",
    "normal": "normal",
    "high": "high",
    "urgent": "urgent",
}
FREQUENCIES = {
    "一次": "once",
    "单次": "once",
    "每周": "weekly",
    "每月": "monthly",
    "once": "once",
    "weekly": "weekly",
    "monthly": "monthly",
}
RELATIONS = ("户主", "配偶", "子女", "父母", "孙子女", "祖父母", "兄弟姐妹", "儿媳", "女婿", "其他")
DISABILITY_GRADES = {
    "0": 0,
    "无": 0,
    "1": 1,
    "一级": 1,
    "2": 2,
    "二级": 2,
    "3": 3,
    "三级": 3,
    "4": 4,
    "四级": 4,
    "1级": 1,
    "2级": 2,
    "3级": 3,
    "4级": 4,
}
DAY_WORDS = {
    "周一": (0,),
    "周二": (1,),
    "周三": (2,),
    "周四": (3,),
    "周五": (4,),
    "周六": (5,),
    "周日": (6,),
    "周天": (6,),
    "星期一": (0,),
    "星期二": (1,),
    "星期三": (2,),
    "星期四": (3,),
    "星期五": (4,),
    "星期六": (5,),
    "星期日": (6,),
    "星期天": (6,),
    "工作日": (0, 1, 2, 3, 4),
    "周末": (5, 6),
    "每天": tuple(range(7)),
}
PERIOD_WORDS = {"上午": (0,), "下午": (1,), "晚上": (2,), "白天": (0, 1), "全天": (0, 1, 2)}
ANY_TIME = ("", "不限", "任意", "随时")


class CellError(ValueError):
    """A cell that fails a rule; `code` names the rule, `params` fill its message."""

    def __init__(self, code: str, **params):
        super().__init__(code)
        self.code = code
        self.params = params


def text(value) -> str:
    """A cell as trimmed text (numbers without a trailing .0, dates as YYYY-MM-DD)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat()
    return str(value).strip()


def id_number(value, raw: str, from_csv: bool, today: date) -> str:
    """A valid resident ID; a number-typed cell (or its CSV trace) is refused as already corrupted."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise CellError("id_numeric")
    if from_csv and (_SCIENTIFIC.match(raw) or _DECIMAL_ZERO.match(raw)):
        raise CellError("id_numeric")
    try:
        return idnumber.normalize(raw, today)
    except idnumber.InvalidIdNumber as e:
        if from_csv and e.reason == "check_character" and raw.endswith("000"):
            raise CellError("id_numeric") from None
        raise CellError("id_" + e.reason) from None


def phone(raw: str) -> str:
    """A mobile or landline number with spaces and inner dashes removed."""
    digits = raw.replace(" ", "").replace("-", "")
    if not _PHONE.match(digits):
        raise CellError("bad_phone")
    return digits


def choice(raw: str, mapping: dict[str, str], code: str) -> str:
    """A value from a fixed list (Chinese word or code)."""
    try:
        return mapping[raw.lower() if raw.isascii() else raw]
    except KeyError:
        raise CellError(code) from None


def relation(raw: str) -> str:
    """A relation to the head of household from the fixed list."""
    if raw not in RELATIONS:
        raise CellError("bad_relation")
    return raw


def disability_grade(value, raw: str) -> int:
    """0 (none) to 4."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        raw = text(value)
    if raw == "":
        return 0
    try:
        return DISABILITY_GRADES[raw]
    except KeyError:
        raise CellError("bad_disability_grade") from None


def a_date(raw: str, today: date) -> date:
    """A date in a common Chinese format (date cells arrive as YYYY-MM-DD), between 1950 and today."""
    simple = _ISO_DATE.match(raw)
    if simple:
        try:
            parsed = date(int(simple[1]), int(simple[2]), int(simple[3]))
        except ValueError:
            raise CellError("bad_date") from None
        if parsed.year < 1950 or parsed > today:
            raise CellError("bad_date")
        return parsed
    for fmt in _DATE_FORMATS:
        try:
            parsed = datetime.strptime(raw, fmt).date()
            break
        except ValueError:
            continue
    else:
        raise CellError("bad_date")
    if parsed.year < 1950 or parsed > today:
        raise CellError("bad_date")
    return parsed


def names_list(raw: str) -> list[str]:
    """Several names separated by 、 , ， ; or spaces."""
    return [part for part in _SEPARATORS.split(raw) if part]


def windows(raw: str) -> int:
    """Preferred weekly windows from words such as 工作日上午、周六下午 (empty or 不限: any time)."""
    if raw in ANY_TIME:
        return weekmask.ALL
    mask = 0
    for token in names_list(raw):
        days, rest = tuple(range(7)), token
        for word, value in DAY_WORDS.items():
            if token.startswith(word):
                days, rest = value, token[len(word) :]
                break
        if rest and rest not in PERIOD_WORDS:
            raise CellError("bad_windows")
        periods = PERIOD_WORDS[rest] if rest else (0, 1, 2)
        mask |= weekmask.from_cells([(d, p) for d in days for p in periods])
    return mask


def mask_value(raw: str, kind: str) -> str:
    """A cell value safe to show in an error report: IDs and phones are masked even when invalid."""
    raw = raw[:60]
    if kind == "id":
        if len(raw) >= 12:
            return raw[:4] + "*" * (len(raw) - 8) + raw[-4:]
        return raw[:1] + "*" * max(len(raw) - 1, 0)
    if kind == "phone":
        return raw[:3] + "****" + raw[-4:] if len(raw) >= 11 else raw[:1] + "*" * max(len(raw) - 1, 0)
    return raw


_MONTH = re.compile(r"^(\d{4})\s*(?:[-/.年]\s*(\d{1,2})\s*月?|(\d{2}))(?:[-/.]\d{1,2}(?:\s.*)?|\d{2}日?)?$")
_AMOUNT_TEXT = re.compile(r"^\d{1,9}(\.\d{1,2})?$")
MAX_AMOUNT_CENTS = 100_000_000  # 1,000,000 yuan: far above any month's assistance
MAX_HOURS = 100_000


def a_month(raw: str, today: date) -> date:
    """The first day of a month written YYYY-MM, YYYY/M, YYYY年M月, YYYYMM or as a date; never before 1950."""
    found = _MONTH.match(raw.strip())
    if not found:
        raise CellError("bad_month")
    year, month = int(found[1]), int(found[2] or found[3])
    if not 1 <= month <= 12 or year < 1950:
        raise CellError("bad_month")
    first = date(year, month, 1)
    if first > today.replace(day=1):
        raise CellError("future_month")
    return first


def _decimal(value, raw: str) -> Decimal:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Decimal(repr(value)).quantize(Decimal("0.000001"))
    text_value = raw.replace(",", "").replace("，", "").replace("元", "").replace("小时", "").strip()
    if not _AMOUNT_TEXT.match(text_value):
        raise InvalidOperation
    return Decimal(text_value)


def amount_cents(value, raw: str) -> int:
    """Yuan with at most two decimals (a number cell or text such as 1,250.50) as whole cents, 0 to 1,000,000 yuan."""
    try:
        amount = _decimal(value, raw)
    except (InvalidOperation, ValueError):
        raise CellError("bad_amount") from None
    cents = amount * 100
    if cents != cents.to_integral_value() or not 0 <= cents <= MAX_AMOUNT_CENTS:
        raise CellError("bad_amount")
    return int(cents)


def hours(value, raw: str) -> float:
    """A number of hours, 0 to 100,000 with at most two decimals (a number cell or text such as 12.5小时)."""
    try:
        amount = _decimal(value, raw)
    except (InvalidOperation, ValueError):
        raise CellError("bad_hours") from None
    if amount != amount.quantize(Decimal("0.01")) or not 0 <= amount <= MAX_HOURS:
        raise CellError("bad_hours")
    return float(amount)


def date_part(raw: str) -> str:
    """The date of a date-and-time text such as 2019-05-12 10:22:33 (the national system's registration time)."""
    return raw.split(" ", 1)[0].split("T", 1)[0] if len(raw) > 10 else raw
