"""The import's columns per kind and family, and its rule codes with messages.

Families (each validated and written by its own module, dispatched from imports/families.py): households with
their members and service items; organisations (social-work agencies, pairing units, the agencies'
government-purchase contracts and the units' pairings with households); volunteers as exported by the national
volunteer service information system (全国志愿服务信息系统); monthly material-assistance payments; corrections to
households and members.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property

from flask_babel import get_locale
from flask_babel import gettext as _


@dataclass(frozen=True)
class Column:
    key: str
    header: str  # the Chinese header in the template and in files
    required: bool = False
    max_length: int | None = None
    mask: str | None = None  # "id" or "phone": shown masked in error reports
    aliases: tuple[str, ...] = ()  # other canonical headers that also name this column in this kind


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


VILLAGES = Kind(
    "villages",
    "村居",
    "村居名称",
    (
        Column("town", "镇街", True, 40),
        Column("name", "村居名称", True, 60),
        Column("lat", "纬度"),
        Column("lon", "经度"),
    ),
)
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
VOLUNTEERS = Kind(
    "volunteers",
    "志愿者",
    "志愿者编号",
    (
        Column("name", "姓名", True, 40),
        Column("id_type", "证件类型", False, 20),
        Column("id_number", "证件号码", True, 30, "id", ("身份证号",)),
        Column("phone", "联系电话", True, None, "phone"),
        Column("national_no", "志愿者编号", True, 40),
        Column("registered_on", "注册日期"),
        Column("hours", "累计服务时长"),
        Column("organisation", "所属组织", False, 100),
        Column("intentions", "服务意向", False, 300),
        Column("town", "镇街", False, 100),
    ),
)
PAYMENTS = Kind(
    "payments",
    "物质救助发放",
    "发放月份",
    (
        Column("month", "发放月份", True),
        Column("household", "户编号", False, 30),
        Column("head_id", "户主身份证号", False, None, "id"),
        Column("category", "救助类别", True, 40),
        Column("amount", "金额", True),
        Column("in_kind", "实物", False, 100),
    ),
)
CORRECTIONS = Kind(
    "corrections",
    "信息更正",
    "变更类型",
    (
        Column("household", "户编号", True, 30),
        Column("change", "变更类型", True),
        Column("effective_on", "生效日期", True),
        Column("town", "新镇街", False, 40),
        Column("village", "新村居", False, 60),
        Column("categories", "新救助类别", False, 200),
        Column("member_id", "成员身份证号", False, None, "id"),
        Column("reason", "变更原因", False, 200),
    ),
)
AGENCIES = Kind(
    "agencies",
    "社工机构",
    "登记证号",
    (
        Column("name", "机构名称", True, 100),
        Column("credit_code", "统一社会信用代码", True, 30),
        Column("licence_no", "登记证号", True, 40),
        Column("contact_name", "联系人", True, 40),
        Column("contact_phone", "联系电话", True, None, "phone"),
        Column("town", "所在镇街", True, 40),
        Column("towns", "服务镇街", True, 400),
    ),
)
UNITS = Kind(
    "units",
    "结对单位",
    "单位类型",
    (
        Column("name", "单位名称", True, 100),
        Column("credit_code", "统一社会信用代码", True, 30),
        Column("unit_type", "单位类型", True, 20),
        Column("department", "主管部门", False, 100),
        Column("town", "所在镇街", True, 40),
        Column("towns", "结对镇街", True, 400),
        Column("quota", "每月走访次数"),
    ),
)
CONTRACTS = Kind(
    "contracts",
    "购买服务合同",
    "合同编号",
    (
        Column("code", "合同编号", True, 40),
        Column("agency", "承接机构信用代码", True, 30),
        Column("title", "项目名称", True, 200),
        Column("starts_on", "开始日期", True),
        Column("ends_on", "结束日期", True),
        Column("budget", "预算金额", True),
        Column("hours", "购买服务时长", True),
        Column("categories", "服务类别", True, 200),
    ),
)
PAIRINGS = Kind(
    "pairings",
    "结对关系",
    "结对开始日期",
    (
        Column("unit", "结对单位信用代码", True, 30),
        Column("household", "户编号", True, 30),
        Column("since", "结对开始日期", True),
        Column("quota", "每月走访次数"),
    ),
)
KINDS: dict[str, Kind] = {
    k.key: k
    for k in (HOUSEHOLDS, MEMBERS, ITEMS, VILLAGES, AGENCIES, UNITS, CONTRACTS, PAIRINGS, VOLUNTEERS, PAYMENTS, CORRECTIONS)
}
# Which kind a sheet holds is decided by the first kind whose signature is among its headers, most specific first
# (a payment or correction sheet may also carry 户主姓名, the households' signature; a contract sheet carries
# 服务类别, the service items' signature).
DETECTION_ORDER: tuple[Kind, ...] = (
    VILLAGES,
    AGENCIES,
    UNITS,
    CONTRACTS,
    PAIRINGS,
    VOLUNTEERS,
    PAYMENTS,
    CORRECTIONS,
    HOUSEHOLDS,
    MEMBERS,
    ITEMS,
)

# 单位类型 of a pairing unit -> its stored type (services/organisations UNIT_TYPES).
UNIT_TYPE_WORDS: dict[str, str] = {
    "党政机关": "department",
    "机关": "department",
    "机关单位": "department",
    "政府部门": "department",
    "企业": "enterprise",
    "国有企业": "enterprise",
    "民营企业": "enterprise",
    "事业单位": "institution",
    "社会团体": "group",
    "社会组织": "group",
    "基层党组织": "party",
    "党组织": "party",
    "department": "department",
    "enterprise": "enterprise",
    "institution": "institution",
    "group": "group",
    "party": "party",
}

# 证件类型 in the national export -> the stored id_type (None: the resident ID, checked like every resident ID).
ID_TYPES: dict[str, str | None] = {
    "": None,
    "身份证": None,
    "居民身份证": None,
    "中华人民共和国居民身份证": None,
    "护照": "passport",
    "港澳居民来往内地通行证": "hk_macau_permit",
    "港澳通行证": "hk_macau_permit",
    "台湾居民来往大陆通行证": "taiwan_permit",
    "台胞证": "taiwan_permit",
    "港澳台居民居住证": "residence_permit",
    "外国人永久居留身份证": "foreign_permanent",
    "外国人永久居留证": "foreign_permanent",
}
# 服务意向 words of the national system -> the volunteer-task service category they mean (others are ignored).
INTENTION_SYNONYMS: dict[str, str] = {
    "精神慰藉": "emotional_comfort",
    "关爱老人": "emotional_comfort",
    "敬老助老": "emotional_comfort",
    "助老": "emotional_comfort",
    "陪伴": "emotional_comfort",
    "陪伴关怀": "emotional_comfort",
    "心理关怀": "emotional_comfort",
    "学业辅导": "tutoring",
    "助学": "tutoring",
    "支教助学": "tutoring",
    "关爱儿童": "tutoring",
    "教育": "tutoring",
    "生活照料": "daily_care",
    "助残": "daily_care",
    "扶残助残": "daily_care",
    "家政服务": "daily_care",
    "社区服务": "daily_care",
    "就医陪护": "medical_escort",
    "陪诊": "medical_escort",
    "医疗卫生": "medical_escort",
    "医疗服务": "medical_escort",
}
# 变更类型 of a correction -> its kind.
CHANGE_KINDS = {
    "迁移": "move",
    "迁移镇街": "move",
    "户籍迁移": "move",
    "变更镇村": "move",
    "变更救助类别": "category",
    "救助类别变更": "category",
    "类别变更": "category",
    "退出救助": "leave",
    "退保": "leave",
    "停保": "leave",
    "move": "move",
    "category": "category",
    "leave": "leave",
}


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
    # volunteers (the national volunteer service information system's export)
    "志愿者姓名": "姓名",
    "证件号": "证件号码",
    "证件类别": "证件类型",
    "注册时间": "注册日期",
    "注册日期(年月日)": "注册日期",
    "服务时长": "累计服务时长",
    "志愿服务时长": "累计服务时长",
    "累计志愿服务时长": "累计服务时长",
    "累计服务时长(小时)": "累计服务时长",
    "服务时长(小时)": "累计服务时长",
    "所属志愿团体": "所属组织",
    "志愿团体": "所属组织",
    "所属团体": "所属组织",
    "组织名称": "所属组织",
    "服务类别意向": "服务意向",
    "志愿服务意向": "服务意向",
    "所属区域": "镇街",
    "所在地区": "镇街",
    # payments
    "发放年月": "发放月份",
    "救助月份": "发放月份",
    "户主身份证号码": "户主身份证号",
    "户主公民身份号码": "户主身份证号",
    "发放金额": "金额",
    "金额(元)": "金额",
    "发放金额(元)": "金额",
    "实物内容": "实物",
    # villages
    "村(居)名称": "村居名称",
    "村(社区)名称": "村居名称",
    "村居委会名称": "村居名称",
    "村名": "村居名称",
    # organisations, contracts and pairings
    "社工机构名称": "机构名称",
    "机构全称": "机构名称",
    "信用代码": "统一社会信用代码",
    "社会信用代码": "统一社会信用代码",
    "登记证书号": "登记证号",
    "登记证书编号": "登记证号",
    "民非登记证号": "登记证号",
    "联系人姓名": "联系人",
    "服务区域": "服务镇街",
    "覆盖镇街": "服务镇街",
    "单位性质": "单位类型",
    "单位类别": "单位类型",
    "上级主管部门": "主管部门",
    "帮扶镇街": "结对镇街",
    "每月走访次数(次)": "每月走访次数",
    "走访次数": "每月走访次数",
    "合同号": "合同编号",
    "承接机构统一社会信用代码": "承接机构信用代码",
    "项目开始日期": "开始日期",
    "项目结束日期": "结束日期",
    "合同金额": "预算金额",
    "合同金额(元)": "预算金额",
    "预算金额(元)": "预算金额",
    "购买服务时长(小时)": "购买服务时长",
    "结对单位统一社会信用代码": "结对单位信用代码",
    "结对日期": "结对开始日期",
    # corrections
    "变更事项": "变更类型",
    "更正类型": "变更类型",
    "变更日期": "生效日期",
    "迁入镇街": "新镇街",
    "迁入村居": "新村居",
    "变更后救助类别": "新救助类别",
    "更正原因": "变更原因",
}
KNOWN_HEADERS = frozenset(h for kind in KINDS.values() for c in kind.columns for h in (c.header, *c.aliases))
_NOT_HEADER_TEXT = re.compile(r"[\s\u200b-\u200d\ufeff*]|\(必填\)")


def canonical_header(cell) -> str:
    """A header cell as the template's header: NFKC, spaces and required marks removed, synonyms mapped."""
    text = _NOT_HEADER_TEXT.sub("", unicodedata.normalize("NFKC", "" if cell is None else str(cell)[:100]))
    return HEADER_SYNONYMS.get(text, text)


def kind_label(key: str) -> str:
    """The user-facing name of a kind."""
    return {
        "households": _("Households"),
        "members": _("Members"),
        "items": _("Service items"),
        "volunteers": _("Volunteers"),
        "payments": _("Material-assistance payments"),
        "corrections": _("Corrections"),
        "villages": _("Villages and communities"),
        "agencies": _("Social-work agencies"),
        "units": _("Pairing units"),
        "contracts": _("Government-purchase contracts"),
        "pairings": _("Pairings"),
    }[key]


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
        "household_not_in_db": lambda: _(
            "No household with this number in the system; import the household first."
        ),
        "household_or_head_required": lambda: _("Give the household number or the head's ID number."),
        "head_not_found": lambda: _("No head of household with this ID number in the system."),
        "head_other_household": lambda: _("This ID number is the head of another household than the number given."),
        "bad_month": lambda: _("Not a valid month (use YYYY-MM, e.g. 2026-03)."),
        "future_month": lambda: _("This month is in the future; payments are imported once they are made."),
        "household_left": lambda: _(
            "The household left assistance on %(date)s, before this month; no payment can be recorded.", **params
        ),
        "bad_amount": lambda: _("Not a valid amount: yuan with at most 2 decimals, from 0 to 1,000,000."),
        "payment_conflict": lambda: _(
            "A different amount (%(amount)s yuan) is already recorded for this household, month and category; "
            "correct it in the system, not by import.",
            **params,
        ),
        "bad_id_type": lambda: _("Unknown ID type; use 身份证, 护照, 港澳居民来往内地通行证 or another type from the list."),
        "bad_id_other": lambda: _("Not a valid document number (4 to 30 letters and digits)."),
        "bad_hours": lambda: _("Not a valid number of hours (0 to 100,000, at most 2 decimals)."),
        "town_required": lambda: _("Give the volunteer's town or sub-district."),
        "national_no_taken": lambda: _("This volunteer number belongs to another volunteer in the system."),
        "bad_change": lambda: _("Unknown change; use 迁移镇街, 变更救助类别 or 退出救助."),
        "move_target_required": lambda: _("A move needs the new town and village."),
        "same_place": lambda: _("The household already lives in this town and village."),
        "categories_required": lambda: _("A change of category needs the new assistance categories."),
        "already_left": lambda: _("The household already left assistance on %(date)s.", **params),
        "change_conflict": lambda: _(
            "A different change of this kind on this date is already recorded for this household."
        ),
        "later_change": lambda: _(
            "A later change of this kind (%(date)s) is already recorded; older changes cannot be applied after it.",
            **params,
        ),
        "member_required_here": lambda: _("Only a change of category can name a member."),
        **_organisation_messages(params),
    }
    message = messages.get(code)
    return message() if message else code


def _organisation_messages(params: dict) -> dict:
    """The messages of the organisations family's rule codes (most are the organisation pages' own messages)."""
    from socialforce.platform.services.organisations import common  # the rules' one place (no import cycle)

    def categories() -> str:
        return params.get("categories_zh" if str(get_locale() or "zh").startswith("zh") else "categories_en", "")

    return {
        "bad_place": lambda: _(
            "Enter latitude and longitude in decimal degrees within %(km)s km of the town's centre, or neither.",
            **params,
        ),
        "city_staff_only": lambda: _(
            "Only city civil-affairs staff import agencies, pairing units and contracts."
        ),
        "bad_credit_code": lambda: str(common.CREDIT_CODE_ERRORS.get(params.get("reason"), "")),
        "bad_name": lambda: _("Enter a name of %(low)s to %(high)s characters.", **params),
        "bad_licence": lambda: _(
            "Enter the registration licence number (%(low)s to %(high)s characters).", **params
        ),
        "bad_contact_name": lambda: _(
            "Enter the contact person's name (%(low)s to %(high)s characters).", **params
        ),
        "bad_contact_phone": lambda: _(
            "Enter the contact's mobile number (11 digits) or a landline with its area code, e.g. 0632-5512345."
        ),
        "licence_taken": lambda: _(
            "Agency %(name)s is already registered with this licence number.", **params
        ),
        "bad_unit_type": lambda: _("Unknown kind of unit; use 党政机关, 企业, 事业单位, 社会团体 or 基层党组织."),
        "bad_quota": lambda: _("Enter a whole number of visits from %(low)s to %(high)s.", **params),
        "agency_missing": lambda: _(
            "No agency with this unified social credit code in the file or in the system."
        ),
        "contract_other_agency": lambda: _("Another agency's contract already has this number."),
        "bad_title": lambda: _("Enter the project title (%(low)s to %(high)s characters).", **params),
        "bad_contract_code": lambda: _(
            "Enter the contract number (%(low)s to %(high)s characters).", **params
        ),
        "bad_period": lambda: _("The last day cannot be before the first day."),
        "bad_budget": lambda: _(
            "Enter the budget in yuan, more than 0 and at most %(max)s, with at most two decimals, e.g. "
            "450000.00.",
            **params,
        ),
        "bad_contract_hours": lambda: _(
            "Enter the purchased service hours, more than 0 and at most %(max)s.", **params
        ),
        "hours_below_used": lambda: _(
            "%(used)s hours of this contract are already used: purchased hours cannot be fewer.", **params
        ),
        "contract_overlap": lambda: _(
            "The period overlaps contract %(code)s (%(start)s to %(end)s) of the same agency for %(categories)s. "
            "Contracts of one agency may not overlap for the same service category.",
            code=params.get("contract"),
            start=params.get("start"),
            end=params.get("end"),
            categories=categories(),
        ),
        "unit_missing": lambda: _(
            "No pairing unit with this unified social credit code in the file or in the system."
        ),
        "unit_not_approved": lambda: _(
            "This unit is not approved (pending or suspended): it cannot take new pairings."
        ),
        "future_since": lambda: _(
            "A pairing is recorded when it starts: the first day cannot be in the future."
        ),
        "already_paired": lambda: _(
            "This household is already paired with %(unit)s (since %(since)s). End that pairing first, or edit "
            "it.",
            **params,
        ),
    }


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
            "with one of %(names)s. Use the template's headers, or delete the sheet from the file.",
            rows=params.get("rows", 10),
            names="、".join(k.signature for k in DETECTION_ORDER),
        ),
    }
    return reasons[code]()
