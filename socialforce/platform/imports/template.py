"""The import template workbook: one sheet per kind with its headers, lists of allowed values and a help sheet."""

from __future__ import annotations

import io

import sqlalchemy as sa
from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation

from socialforce.platform.extensions import db
from socialforce.platform.imports import cells
from socialforce.platform.imports.rules import (
    CHANGE_KINDS,
    HELP_SHEET,
    ID_TYPES,
    INTENTION_SYNONYMS,
    KINDS,
    REFERENCE_SHEET,
    UNIT_TYPE_WORDS,
    Kind,
)
from socialforce.platform.models import AssistanceCategory, Role, ServiceCategory, Town, User, Village

CHANGE_WORDS = ("迁移镇街", "变更救助类别", "退出救助")
UNIT_TYPE_CHOICES = ("党政机关", "企业", "事业单位", "社会团体", "基层党组织")
ID_TYPE_WORDS = tuple(word for word in ID_TYPES if word and "中华人民共和国" not in word)
HELP_LINES = (
    "带 * 的列必填。每个表第一行为表头，请勿修改表头文字。一个文件可只填其中几个表，未填的表删去或留空即可。",
    "村居：空库先导入村居（镇街写全称，村居名称在该镇街内唯一）；纬度、经度可不填（取镇街中心），填写时须在镇街中心 30 公里内。"
    "系统中已有的村居跳过；可与家庭放在同一文件中。",
    "家庭：户编号唯一；镇街写全称（如 龙泉街道）；村居须是该镇街下的村居（见“可选值”表）。",
    "成员：户编号须在“家庭”表或系统中已存在；身份证号为18位，单元格须为文本格式（不要存成数字，"
    "Excel 只保留15位）；与户主关系：" + "、".join(cells.RELATIONS) + "；残疾等级 0（无）到 4。",
    "救助类别可填多个，用、分隔（如 低保、残疾人生活补贴）；纳入救助日期格式 2024-01-31，不填为导入当天。",
    "服务事项：成员身份证号可不填（面向全户）；填写时须是该户成员。优先级：普通、高、紧急；频次：一次、每周、每月。",
    "期望时段：如 工作日上午、周六下午、每天晚上；不填或“不限”表示任何时间。",
    "志愿者：按全国志愿服务信息系统导出的列填写（姓名、证件类型、证件号码、手机号码、志愿者编号、注册日期、"
    "累计服务时长、所属组织、服务意向）。证件类型不填为身份证（按身份证规则校验），其他证件号码按原样保存。"
    "镇街：市局导入时必填，镇街工作人员导入时为本镇街。系统中已有同一证件号码的志愿者只更新编号、注册日期、"
    "累计时长和组织，不会重复建档；导入的累计时长与平台服务时长分开显示。导入不建登录账号：志愿者在公开报名页"
    "用同一证件号码报名后，由镇街工作人员核对认领。",
    "物质救助发放：发放月份格式 2026-03；按户编号或户主身份证号填写（二选一）；金额单位为元，最多两位小数。"
    "不能导入未来月份、已退出救助的家庭（退出日期在该月之前）的发放；同一户、同一月份、同一救助类别在文件中只能"
    "出现一次，系统中已有的同一条发放会跳过。",
    "信息更正：变更类型为 迁移镇街（填新镇街、新村居）、变更救助类别（填新救助类别，可填成员身份证号只改该成员，"
    "不填则改全户成员）或 退出救助；生效日期不能晚于今天。每次更正都记入家庭的变更记录（原值、新值、日期），"
    "不会直接覆盖；同一户同一类变更在一个文件中只能出现一次。",
    "社工机构：统一社会信用代码18位（校验码须正确）；登记证号不能与其他机构重复；所在镇街写全称；服务镇街可填多个，"
    "用、分隔。系统中已有同一信用代码的机构会按本表更新，不会重复登记。仅市局可导入社工机构、结对单位和合同。",
    "结对单位：单位类型为 党政机关、企业、事业单位、社会团体 或 基层党组织；每月走访次数 1 到 31，不填为 1。"
    "按统一社会信用代码匹配已有单位（页面登记、尚无信用代码的单位按名称匹配并补上代码）。",
    "购买服务合同：合同编号唯一；承接机构信用代码须是本文件或系统中的社工机构；日期格式 2026-01-01；预算金额单位为元；"
    "服务类别可填多个。同一机构的合同在同一服务类别上期间不能重叠；已用时长由派单累计，导入不能改，购买时长不能少于已用。",
    "结对关系：结对单位信用代码须是本文件或系统中的结对单位；户编号须在“家庭”表或系统中；结对开始日期不能晚于今天；"
    "每月走访次数不填则用单位的次数。同一单位与同一户已有未结束的结对时：开始日期相同则只更新走访次数，不同则拒绝"
    "（请先在页面上结束原结对）。镇街工作人员只能导入本镇街家庭的结对。",
    "以 = + - @ 开头的单元格会被拒绝（防止公式注入）。",
    "系统中已有的户编号、身份证号会跳过，不会重复导入；同一文件可放心重复导入。",
)


def template_workbook(user: User) -> bytes:
    """The workbook as .xlsx bytes; the reference sheet lists the towns and villages the user may import."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="DDEBF7")
    for kind in KINDS.values():
        sheet = workbook.create_sheet(kind.sheet)
        sheet.append([c.header + ("*" if c.required else "") for c in kind.columns])
        for position, column in enumerate(kind.columns, start=1):
            letter = sheet.cell(row=1, column=position).column_letter
            sheet.cell(row=1, column=position).font = bold
            sheet.cell(row=1, column=position).fill = fill
            sheet.column_dimensions[letter].width = 30 if column.max_length and column.max_length > 60 else 18
            sheet.column_dimensions[letter].number_format = "@"  # IDs, phones and months stay text
        sheet.freeze_panes = "A2"
        _add_choices(sheet, kind)
    _add_reference_sheet(workbook, user)
    sheet = workbook.create_sheet(HELP_SHEET)
    sheet.column_dimensions["A"].width = 110
    for line in HELP_LINES:
        sheet.append([line])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _add_choices(sheet, kind: Kind) -> None:
    lists = {
        "relation": cells.RELATIONS,
        "priority": ("普通", "高", "紧急"),
        "frequency": ("一次", "每周", "每月"),
        "disability": ("0", "1", "2", "3", "4"),
        "id_type": ID_TYPE_WORDS,
        "change": CHANGE_WORDS,
        "unit_type": UNIT_TYPE_CHOICES,
    }
    for position, column in enumerate(kind.columns, start=1):
        if column.key in lists:
            letter = sheet.cell(row=1, column=position).column_letter
            rule = DataValidation(
                type="list", formula1='"' + ",".join(lists[column.key]) + '"', allow_blank=True
            )
            rule.add(f"{letter}2:{letter}100000")
            sheet.add_data_validation(rule)


def _add_reference_sheet(workbook: Workbook, user: User) -> None:
    sheet = workbook.create_sheet(REFERENCE_SHEET)
    sheet.append(["镇街", "村居", "救助类别", "服务类别", "服务意向", "证件类型", "变更类型"])
    towns = sa.select(Town).where(Town.county_id == (user.county_id or -1)).order_by(Town.id)
    if user.role == Role.town_staff:
        towns = towns.where(Town.id == user.town_id)
    places = [
        (t.name_zh, v)
        for t in db.session.scalars(towns)
        for v in db.session.scalars(
            sa.select(Village.name).where(Village.town_id == t.id).order_by(Village.id)
        )
    ]
    columns = [
        [town for town, _village in places],
        [village for _town, village in places],
        db.session.scalars(sa.select(AssistanceCategory.name_zh).order_by(AssistanceCategory.id)).all(),
        db.session.scalars(sa.select(ServiceCategory.name_zh).order_by(ServiceCategory.id)).all(),
        list(INTENTION_SYNONYMS),
        list(ID_TYPE_WORDS),
        list(CHANGE_WORDS),
    ]
    assert set(CHANGE_WORDS) <= set(CHANGE_KINDS)  # noqa: S101 - the template lists only words the import reads
    assert set(UNIT_TYPE_CHOICES) <= set(UNIT_TYPE_WORDS)  # noqa: S101
    for index in range(max(len(c) for c in columns)):
        sheet.append([column[index] if index < len(column) else "" for column in columns])
