"""The import's columns per kind and family, and the words and codes they understand (messages: imports/messages.py).

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
