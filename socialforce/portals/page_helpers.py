"""The helpers pages use to show and read values: enum labels, bilingual names, ranking reasons in words, the
week grid, form choices and pagination links, registered as template globals by `init_app`.

The words themselves (one label per stored code) are in `platform/labels.py`, which services use too; this module
only presents them, so it stays in the portals."""
from __future__ import annotations

from flask import Flask, current_app
from flask_babel import lazy_gettext as _l
from wtforms import SelectChoice

from socialforce.platform import localtime
from socialforce.platform.extensions import db
from socialforce.platform.i18n import select_locale
from socialforce.platform.inputs import PAGE_SIZES, page_number, page_size
from socialforce.platform.labels import (
    FEATURE_NAMES,
    FEEDBACK_CHANNEL,
    FREQUENCY,
    ITEM_STATUS,
    ORDER_STATE,
    PRIORITY,
    REASONS,
    VISIT_FLAG,
    VISIT_STATUS,
)
from socialforce.portals.nav import portal_nav

ENUM_LABELS = {"item_status": ITEM_STATUS, "order_state": ORDER_STATE, "visit_status": VISIT_STATUS,
               "feedback_channel": FEEDBACK_CHANNEL}


def choices(pairs) -> list[SelectChoice]:
    """(value, label) pairs as WTForms choices."""
    return [SelectChoice(value, label) for value, label in pairs]


def bilingual(row) -> str:
    """A reference row's name in the current language (rows carry name_zh and name_en)."""
    return row.name_zh if select_locale() == "zh_CN" else row.name_en


def reason_text(reason: dict) -> str:
    """One ranking reason in words, e.g. 'About 3.2 km away'."""
    template = REASONS.get(reason["feature"])
    return str(template) % {"value": reason["value"]} if template is not None else reason["feature"]


def reason_words(reason) -> str:
    """A matching-engine Reason (object) in words."""
    return reason_text({"feature": reason.feature, "value": reason.value})


def top_reasons(reasons: dict | None, n: int = 3) -> list[str]:
    """The n reasons that added most to a stored ranking, in words (features that added nothing are left out)."""
    if not reasons:
        return []
    return [reason_text(r) for r in reasons.get("reasons", []) if r["contribution"] > 0 and
            (r["feature"] not in ("pairing", "continuity") or r["value"] > 0)][:n]


WEEK_DAYS = (_l("Mon"), _l("Tue"), _l("Wed"), _l("Thu"), _l("Fri"), _l("Sat"), _l("Sun"))
WEEK_PERIODS = (_l("Morning"), _l("Afternoon"), _l("Evening"))


def feature_weights(weights: dict[str, float]) -> str:
    """Scorer weights in words, largest first, e.g. 'Description match 30% · Distance 20%'."""
    return " · ".join(f"{FEATURE_NAMES.get(f, f)} {w:.0%}" for f, w in sorted(weights.items(), key=lambda fw: -fw[1]))


def mask_from_form(values: list[str]) -> int:
    """A week mask from the grid's checked bit numbers (unknown values ignored)."""
    return sum(1 << int(v) for v in set(values) if v.isdigit() and 0 <= int(v) < 21)


def visit_flag_labels(flags: str | None) -> list[str]:
    """A visit's stored plausibility flags in words (none: an empty list)."""
    return [str(VISIT_FLAG.get(code, code)) for code in (flags or "").split()]


def without_page(args) -> dict:
    """Query arguments minus `page`, for pagination links."""
    return {k: v for k, v in args.items() if k != "page"}


def paginated(query, page: int | None = None, **kwargs):
    """One page of a select for a long list: ?page= (or `page`) and ?per_page= (bounded) from the URL, over
    db.paginate."""
    return db.paginate(query, page=page or page_number(), per_page=page_size(current_app.config["PAGE_SIZE"]),
                       error_out=False, **kwargs)


def page_links(page, window: int = 2) -> list[int | None]:
    """The page numbers a pager shows: first, last and `window` around the current page; None marks a gap."""
    shown = sorted({1, page.pages, *range(max(1, page.page - window), min(page.pages, page.page + window) + 1)})
    links: list[int | None] = []
    for n in shown:
        if links and n - (links[-1] or 0) > 1:
            links.append(None)
        links.append(n)
    return links


def init_app(app: Flask) -> None:
    """Expose the label helpers to templates."""
    app.jinja_env.filters["feature_weights"] = feature_weights
    app.jinja_env.globals.update(
        category_label=bilingual,
        town_label=bilingual,
        priority_label=lambda v: PRIORITY[str(v)],
        item_status_label=lambda v: ITEM_STATUS[str(v)],
        order_state_label=lambda v: ORDER_STATE[str(v)],
        enum_label=lambda kind, v: ENUM_LABELS[kind].get(str(v), v),
        enum_kinds=ENUM_LABELS,
        frequency_label=lambda v: FREQUENCY[str(v)],
        top_reasons=top_reasons,
        reason_words=reason_words,
        week_days=lambda: WEEK_DAYS,
        week_periods=lambda: WEEK_PERIODS,
        without_page=without_page,
        page_links=page_links,
        today_local=localtime.today,
        page_sizes=lambda: PAGE_SIZES,
        visit_flag_labels=visit_flag_labels,
        portal_nav=portal_nav,
    )
