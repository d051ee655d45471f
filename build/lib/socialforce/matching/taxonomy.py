"""The service taxonomy the engine needs: categories, qualification rules, Tengzhou's 21 towns."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

CATEGORIES: tuple[str, ...] = (
    "counselling", "emotional_comfort", "resource_linking", "capability_building", "social_integration",
    "rehabilitation", "tutoring", "daily_care", "employment", "legal_aid", "medical_escort",
)
QUALIFICATIONS: tuple[str, ...] = (
    "licensed_social_worker", "certified_counsellor", "rehab_therapist", "lawyer", "teacher", "medical",
)
PROVIDER_KINDS: tuple[str, ...] = ("agency", "unit", "volunteer")

DEFAULT_REQUIRED_QUALIFICATIONS: Mapping[str, frozenset[str]] = MappingProxyType({
    "counselling": frozenset({"licensed_social_worker", "certified_counsellor"}),
    "rehabilitation": frozenset({"rehab_therapist", "licensed_social_worker"}),
    "legal_aid": frozenset({"lawyer"}),
})


@dataclass(frozen=True)
class Rules:
    """Hard-constraint parameters the platform passes in from its taxonomy.

    `required_qualifications[category]` is a set of qualification codes of which the provider must hold
    at least ONE (a category absent from the mapping, or mapped to an empty set, needs none).
    `minor_check_kinds` are the provider kinds that need `background_checked` to serve an item for a
    minor: by default volunteers only (agencies and pairing units are vetted organisations).
    """

    required_qualifications: Mapping[str, frozenset[str]] = field(
        default_factory=lambda: DEFAULT_REQUIRED_QUALIFICATIONS)
    minor_check_kinds: frozenset[str] = frozenset({"volunteer"})

    def required(self, category: str) -> frozenset[str]:
        """The qualifications of which one is needed for `category` (empty: none needed)."""
        return frozenset(self.required_qualifications.get(category, frozenset()))


DEFAULT_RULES = Rules()

# id, code, Chinese name, approximate centroid (lat, lon); ids are the synthetic generator's town ids
TOWNS: tuple[tuple[int, str, str, float, float], ...] = (
    (1, "longquan", "龙泉街道", 35.086, 117.163),
    (2, "jinghe", "荆河街道", 35.095, 117.140),
    (3, "shannan", "善南街道", 35.065, 117.170),
    (4, "beixin", "北辛街道", 35.118, 117.158),
    (5, "dongshahe", "东沙河街道", 35.132, 117.222),
    (6, "hongxu", "洪绪镇", 35.148, 117.112),
    (7, "nanshahe", "南沙河镇", 35.020, 117.118),
    (8, "dawu", "大坞镇", 35.025, 117.236),
    (9, "binhu", "滨湖镇", 34.957, 117.028),
    (10, "jisuo", "级索镇", 35.004, 117.070),
    (11, "xigang", "西岗镇", 35.060, 117.042),
    (12, "jiangtun", "姜屯镇", 35.170, 117.080),
    (13, "baogou", "鲍沟镇", 35.198, 117.155),
    (14, "zhangwang", "张汪镇", 34.968, 117.130),
    (15, "guanqiao", "官桥镇", 34.958, 117.225),
    (16, "chaihudian", "柴胡店镇", 34.925, 117.290),
    (17, "yangzhuang", "羊庄镇", 35.020, 117.330),
    (18, "mushi", "木石镇", 35.150, 117.355),
    (19, "jiehe", "界河镇", 35.225, 117.245),
    (20, "longyang", "龙阳镇", 35.235, 117.120),
    (21, "dongguo", "东郭镇", 35.190, 117.310),
)
URBAN_TOWN_IDS: frozenset[int] = frozenset({1, 2, 3, 4, 5})
