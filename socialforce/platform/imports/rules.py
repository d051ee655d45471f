"""The import's columns per kind (households, members, service items) and its rule codes with messages."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property

from flask_babel import gettext as _


@dataclass(frozen=True)
class Column:
    key: str
    header: str  # the Chinese header in the template and in files
    required: bool = False
    max_length: int | None = None
    mask: str | None = None  # "id" or "phone": shown masked in error reports


@dataclass(frozen=True)
class Kind:
    key: str
    sheet: str  # the template's sheet name
    signature: str  # a header that identifies this kind of sheet
    columns: tuple[Column, ...]

    @cached_property
    def by_key(self) -> dict[str, Column]:
        """The columns by key."""
        return {c.key: c for c in self.columns}

    def column(self, key: str) -> Column:
        """The column with this key."""
        return self.by_key[key]


HOUSEHOLDS = Kind(
    "households",
    "家庭",
    "户主姓名",
    (
        Column("code", "户编号", True, 30),
        Column("town", "镇街", True, 40),
        Column("village", "村居", True, 60),
        Column("head_name", "户主姓名", True, 40),
        Column("address", "家庭住址", True, 200),
        Column("phone", "联系电话", False, None, "phone"),
    ),
)
MEMBERS = Kind(
    "members",
    "成员",
    "与户主关系",
    (
        Column("household", "户编号", True, 30),
        Column("name", "姓名", True, 40),
        Column("id_number", "身份证号", True, None, "id"),
        Column("relation", "与户主关系", True),
        Column("disability", "残疾等级"),
        Column("categories", "救助类别", False, 200),
        Column("since", "纳入救助日期"),
        Column("health", "健康状况", False, 200),
    ),
)
ITEMS = Kind(
    "items",
    "服务事项",
    "服务类别",
    (
        Column("household", "户编号", True, 30),
        Column("member_id", "成员身份证号", False, None, "id"),
        Column("category", "服务类别", True),
        Column("description", "需求描述", True, 500),
        Column("priority", "优先级"),
        Column("frequency", "频次"),
        Column("windows", "期望时段", False, 200),
    ),
)
KINDS: dict[str, Kind] = {k.key: k for k in (HOUSEHOLDS, MEMBERS, ITEMS)}


REFERENCE_SHEET, HELP_SHEET = "可选值", "填写说明"  # the template's own sheets, never imported

# Header variants found in the bureau's and towns' own workbooks -> the template's header (after NFKC and with
# every space removed). The one place that says which other spellings of a column are understood.
HEADER_SYNONYMS = {
    "户号": "户编号",
    "家庭编号": "户编号",
    "家庭户号": "户编号",
    "户编码": "户编号",
    "乡镇": "镇街",
    "镇(街道)": "镇街",
    "镇(街)": "镇街",
    "乡镇(街道)": "镇街",
    "镇街道": "镇街",
    "所属镇街": "镇街",
    "村(居)": "村居",
    "村(社区)": "村居",
    "村(居)委会": "村居",
    "村社区": "村居",
    "所属村居": "村居",
    "户主名称": "户主姓名",
    "住址": "家庭住址",
    "家庭地址": "家庭住址",
    "现住址": "家庭住址",
    "联系方式": "联系电话",
    "手机号": "联系电话",
    "手机号码": "联系电话",
    "电话": "联系电话",
    "成员姓名": "姓名",
    "身份证号码": "身份证号",
    "公民身份号码": "身份证号",
    "证件号码": "身份证号",
    "与户主的关系": "与户主关系",
    "与户主关系(称谓)": "与户主关系",
    "家庭关系": "与户主关系",
    "残疾级别": "残疾等级",
    "救助类型": "救助类别",
    "保障类别": "救助类别",
    "纳入日期": "纳入救助日期",
    "纳入保障日期": "纳入救助日期",
    "健康情况": "健康状况",
    "服务对象身份证号": "成员身份证号",
    "服务类型": "服务类别",
    "需求内容": "需求描述",
    "服务需求": "需求描述",
    "优先等级": "优先级",
    "服务频次": "频次",
    "服务时段": "期望时段",
}
KNOWN_HEADERS = frozenset(c.header for kind in KINDS.values() for c in kind.columns)
_NOT_HEADER_TEXT = re.compile(r"[\s\u200b-\u200d\ufeff*]|\(必填\)")


def canonical_header(cell) -> str:
    """A header cell as the template's header: NFKC, spaces and required marks removed, synonyms mapped."""
    text = _NOT_HEADER_TEXT.sub("", unicodedata.normalize("NFKC", "" if cell is None else str(cell)[:100]))
    return HEADER_SYNONYMS.get(text, text)


def kind_label(key: str) -> str:
    """The user-facing name of a kind."""
    return {"households": _("Households"), "members": _("Members"), "items": _("Service items")}[key]


def reason_message(code: str, params: dict) -> str:
    """The explanation of a rule code in the user's language."""
    messages = {
        "missing_column": lambda: _("This required column is missing from the header row."),
        "required": lambda: _("This cell is required."),
        "too_long": lambda: _("Too long: at most %(max)s characters.", **params),
        "formula": lambda: _("Starts with =, +, - or @ (a spreadsheet formula); remove that character."),
        "id_numeric": lambda: _(
            "The ID number is stored as a number, so Excel has kept only 15 digits and the rest are "
            "lost. Format the column as Text and type the ID again."
        ),
        "id_format": lambda: _("Not an 18-character resident ID number."),
        "id_birth_date": lambda: _("The birth date inside the ID number is not a real date."),
        "id_check_character": lambda: _(
            "The last character of the ID number does not match (check digit wrong)."
        ),
        "bad_phone": lambda: _("Not a valid phone number (11-digit mobile or landline with area code)."),
        "unknown_town": lambda: _("Unknown town or sub-district; use its full Chinese name."),
        "unknown_village": lambda: _("Unknown village or community in this town."),
        "unknown_category": lambda: _("Unknown assistance category: %(name)s.", **params),
        "unknown_service_category": lambda: _("Unknown service category."),
        "bad_relation": lambda: _("Unknown relation to the head of household."),
        "bad_disability_grade": lambda: _("Disability grade must be 0 (none) to 4."),
        "bad_date": lambda: _("Not a valid date (use YYYY-MM-DD, not in the future)."),
        "bad_priority": lambda: _("Priority must be 普通, 高 or 紧急."),
        "bad_frequency": lambda: _("Frequency must be 一次, 每周 or 每月."),
        "bad_windows": lambda: _("Unknown time window; use words such as 工作日上午、周六下午 or 不限."),
        "duplicate_in_file": lambda: _("Duplicate: the same value appears in an earlier row of this file."),
        "household_conflict": lambda: _(
            "This household number is already registered in another town or village."
        ),
        "id_registered_elsewhere": lambda: _("This person is already registered in another household."),
        "household_missing": lambda: _("No household with this number in the file or in the database."),
        "member_not_in_household": lambda: _("This person is not a member of the household."),
        "other_town": lambda: _(
            "This household belongs to another town; you may only import your own town's rows."
        ),
        "sheet_not_recognised": lambda: sheet_reason("not_recognised", params),
    }
    message = messages.get(code)
    return message() if message else code


def sheet_reason(code: str, params: dict) -> str:
    """What happens to one sheet of the file, and why, in the user's language."""
    reasons = {
        "imported": lambda: _(
            "Imported as %(kind)s (header row %(row)s).", kind=kind_label(params["kind"]), row=params["row"]
        ),
        "template_sheet": lambda: _("Ignored: the template's own list of values or instructions."),
        "empty": lambda: _("Ignored: the sheet is empty."),
        "not_a_worksheet": lambda: _("Ignored: a chart or dialog sheet, not a table."),
        "no_table": lambda: _("Ignored: it holds no table (notes or a title only)."),
        "not_recognised": lambda: _(
            "Not recognised: the sheet holds a table, but none of its first %(rows)s rows is a header row "
            "with 户主姓名, 与户主关系 or 服务类别. Use the template's headers, or delete the sheet from the "
            "file.",
            rows=params.get("rows", 10),
        ),
    }
    return reasons[code]()
