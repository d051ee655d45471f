"""Chinese text for service-item descriptions, outcome comments and decline reasons, from templates."""
from __future__ import annotations

import random
import re

SLOTS = {
    "loss": ("丧偶", "离异", "失业", "确诊重病", "家庭突遭变故", "唯一的儿子去世", "老伴住院"),
    "burden": ("长期患病卧床", "独自照顾残疾家人", "独自抚养孩子", "长期失业在家", "照顾两位高龄老人"),
    "feeling": ("心理压力大", "常失眠焦虑", "对生活失去信心", "情绪波动大", "不愿出门与人交流"),
    "child_issue": ("性格孤僻不愿与人交流", "父母离世后沉默寡言", "在校受到同学排挤", "出现厌学情绪", "沉迷手机游戏"),
    "lonely": ("子女长期在外务工", "老伴去世多年", "平时很少出门", "亲属都在外地", "听力不好很少与人交流"),
    "need": ("房屋漏雨急需修缮", "缺少冬季取暖设施", "孩子上学费用困难", "医疗费用负担重", "家中缺少基本家具家电"),
    "resource": ("慈善救助", "危房改造", "教育资助", "医疗救助", "爱心企业捐助"),
    "benefit": ("临时救助", "残疾人两项补贴", "医疗救助报销", "助学金", "高龄津贴"),
    "skill": ("电商直播", "家政服务技能", "手工编织", "智能手机使用", "种植养殖技术", "面点制作"),
    "purpose": ("家庭收入", "就业能力", "自我发展能力"),
    "who": ("残疾人", "独居老人", "困境儿童", "精神障碍康复者", "随迁老人"),
    "integration": ("与邻里很少来往", "不熟悉社区环境", "缺少朋友", "不会使用公共服务设施"),
    "disability": ("脑卒中后偏瘫", "肢体残疾", "脑瘫", "脊髓损伤后下肢无力", "骨折术后行走困难", "帕金森病"),
    "grade": ("上小学三年级", "上小学六年级", "上初一", "上初二", "上初三"),
    "subject": ("数学", "英语", "语文", "数学和英语"),
    "child_status": ("父母外出务工由祖辈照看", "父亲去世母亲改嫁", "父母残疾无力辅导", "隔代抚养"),
    "task": ("洗澡理发", "打扫卫生", "做饭洗衣", "购买生活用品", "翻身擦洗"),
    "job_status": ("失业在家", "只能从事轻体力劳动", "务工收入不稳定"),
    "job": ("附近工厂的工作", "公益性岗位", "灵活就业岗位", "居家手工活"),
    "crop": ("马铃薯", "大蒜", "蔬菜大棚", "果树", "食用菌"),
    "dispute": ("与前雇主存在工资纠纷", "子女不履行赡养义务", "交通事故赔偿未落实", "宅基地边界纠纷", "工伤认定遇到困难",
                "房屋租赁合同纠纷"),
    "period": ("每周", "每月", "每两周"),
    "hospital": ("滕州市中心人民医院", "镇卫生院", "滕州市中医医院", "枣庄市立医院"),
    "visit": ("复查", "透析", "取药", "做康复治疗", "化疗"),
}

TEMPLATES = {
    "counselling": ("{loss}后情绪低落，需要心理疏导", "{burden}，{feeling}，希望有社工定期谈心",
                    "孩子{child_issue}，需要专业心理辅导", "{loss}后{feeling}，需要心理危机干预"),
    "emotional_comfort": ("老人独自在家，{lonely}，希望有人定期上门陪伴聊天", "{lonely}，节假日无人陪伴，希望志愿者上门探望",
                          "老人记忆力减退，{lonely}，需要精神慰藉", "孩子{child_status}，缺少关爱，需要定期陪伴"),
    "resource_linking": ("家中{need}，需要链接{resource}资源", "申请{benefit}材料不齐，需协助办理",
                         "{need}，希望对接{resource}"),
    "capability_building": ("希望学习{skill}，提高{purpose}", "户主文化程度低，需要参加{skill}培训",
                            "{who}希望学习{skill}，增强{purpose}"),
    "social_integration": ("{who}长期居家，{integration}，希望参加社区活动", "{who}{integration}，需要帮助融入社区",
                           "孩子{child_status}，{integration}，需要参加小组活动"),
    "rehabilitation": ("{disability}，需要上门康复训练", "{disability}，需要康复指导和辅具适配",
                       "{disability}，希望定期进行肢体功能训练"),
    "tutoring": ("孩子{grade}，{subject}成绩落后，需要课后辅导", "孩子{child_status}，缺少学习辅导，需要每周辅导作业",
                 "孩子{grade}，{child_status}，需要{subject}学业帮扶"),
    "daily_care": ("老人生活不能完全自理，需要协助{task}", "独居老人行动不便，需要定期上门{task}",
                   "{disability}，需要协助{task}"),
    "employment": ("家中劳动力{job_status}，希望介绍{job}", "种植{crop}缺少技术和销路，需要产销帮扶",
                   "残疾人{job_status}，希望推荐{job}"),
    "legal_aid": ("{dispute}，需要法律援助", "{dispute}，希望律师提供法律咨询"),
    "medical_escort": ("需要{period}到{hospital}{visit}，家中无人陪同", "老人行动不便，需要陪同到{hospital}{visit}",
                       "{disability}，{period}需陪同就医{visit}"),
}
SLOT_RE = re.compile(r"\{(\w+)\}")

COMMENTS_GOOD = ("服务很耐心，老人很满意", "社工每次都按时上门，帮了大忙", "孩子成绩有进步，家长很感谢", "问题已解决，非常感谢",
                 "志愿者很热心，希望继续服务")
COMMENTS_MIXED = ("服务还可以，希望次数多一些", "部分问题已解决，还需后续跟进", "上门时间不太固定")
COMMENTS_BAD = ("多次约定时间未上门", "服务流于形式，没有实际帮助", "态度一般，问题没有解决")
DECLINE_REASONS = ("本周人手不足", "距离较远，无法按时上门", "该类服务非本机构专长", "时间窗口冲突", "服务对象联系不上")
RECORD_CONTENT = {
    "emotional_comfort": "上门陪伴聊天，了解近况", "tutoring": "辅导家庭作业", "daily_care": "打扫卫生、协助做饭",
    "medical_escort": "陪同就医、取药",
}


def description(rng: random.Random, category: str) -> str:
    """A service-item description for the category, its slots filled at random."""
    template = rng.choice(TEMPLATES[category])
    return SLOT_RE.sub(lambda m: rng.choice(SLOTS[m.group(1)]), template)


def comment(rng: random.Random, satisfaction: int) -> str | None:
    """An occasional evaluation comment matching the satisfaction."""
    if rng.random() > 0.35:
        return None
    pool = COMMENTS_GOOD if satisfaction >= 4 else COMMENTS_MIXED if satisfaction == 3 else COMMENTS_BAD
    return rng.choice(pool)
