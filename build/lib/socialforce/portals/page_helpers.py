"""The helpers pages use to show and read values: enum labels, bilingual names, ranking reasons in words, the
week grid, form choices and pagination links, registered as template globals by `init_app`.

The words themselves (one label per stored code) are in `platform/labels.py`, which services use too; this module
only presents them, so it stays in the portals."""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import Flask, current_app, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import SelectChoice

from socialforce.platform import localtime
from socialforce.platform.extensions import db
from socialforce.platform.i18n import select_locale
from socialforce.platform.inputs import PAGE_SIZES, page_number, page_size, parse_date
from socialforce.platform.labels import (
    CERTIFICATE_LEVEL,
    FEATURE_NAMES,
    FEEDBACK_CHANNEL,
    FREQUENCY,
    ITEM_CLOSED_BY_STAFF,
    ITEM_SERVED,
    ITEM_STATUS,
    ORDER_EVENT_REASON,
    ORDER_STATE,
    PRIORITY,
    REASONS,
    RELATION,
    VISIT_FLAG,
    VISIT_STATUS,
)
from socialforce.platform.services import items as item_service
from socialforce.portals.nav import portal_menu, portal_nav

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
WEEK_PRESETS = (  # (label, bit numbers: day * 3 + period)
    (_l("Weekday mornings"), [d * 3 for d in range(5)]),
    (_l("Weekday afternoons"), [d * 3 + 1 for d in range(5)]),
    (_l("Evenings"), [d * 3 + 2 for d in range(7)]),
    (_l("Weekends"), [d * 3 + p for d in (5, 6) for p in range(3)]),
    (_l("Any time"), list(range(21))),
)


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


def item_state_label(item) -> str:
    """An item's state in words; a closed item says whether it was served or closed by staff."""
    if str(item.status) != "closed":
        return str(ITEM_STATUS[str(item.status)])
    return str(ITEM_SERVED if item_service.was_served(item) else ITEM_CLOSED_BY_STAFF)


def event_reason(reason: str | None) -> str:
    """An order event's reason: the platform's own reasons translated, a person's reason as typed."""
    if not reason:
        return ""
    label = ORDER_EVENT_REASON.get(reason)
    return str(label) if label is not None else reason


def code_label(table: dict, value) -> str:
    """A stored code's label from one of the label tables (unknown codes as stored)."""
    if value is None:
        return ""
    label = table.get(str(value))
    return str(label) if label is not None else str(value)


def user_identity(user) -> tuple[str, str]:
    """The top bar's (own name, organisation) of a signed-in user: a member's or volunteer's own name and its
    agency or unit, staff their name and town."""
    name, organisation = user.display_name, ""
    if getattr(user, "member", None) is not None:
        name = user.member.name
    if getattr(user, "provider", None) is not None:
        organisation = user.provider.name
        if name == organisation and getattr(user, "member", None) is None:
            organisation = ""
    elif getattr(user, "town", None) is not None:
        organisation = bilingual(user.town)
    return name, organisation


def day_range_args(errors: dict[str, str], start: str = "date_from",
                   end: str = "date_to") -> tuple[datetime | None, datetime | None]:
    """A list filter's local days from ?date_from=&date_to= (YYYY-MM-DD) as naive-UTC [since, until); a bad or
    reversed date gets a message in `errors` under its field and is ignored."""
    days = {}
    for name in (start, end):
        raw = (request.args.get(name) or "").strip()
        days[name] = parse_date(raw)
        if raw and days[name] is None:
            errors[name] = _("Enter a date as YYYY-MM-DD.")
    if days[start] and days[end] and days[end] < days[start]:
        errors[end] = _("The end date is before the start date.")
        days[end] = None
    return (localtime.day_start(days[start]) if days[start] else None,
            localtime.day_start(days[end] + timedelta(days=1)) if days[end] else None)


def paginated(query, page: int | None = None, *, arg: str = "page", sizes: tuple[int, ...] = PAGE_SIZES,
              default_size: int | None = None, **kwargs):
    """One page of a select for a long list, the one way every list pages: the page number from ?<arg>= (or
    `page`), the page size from ?per_page= (one of `sizes`, else `default_size` or the PAGE_SIZE setting), over
    db.paginate; the pager macro offers `sizes`."""
    default = default_size or current_app.config["PAGE_SIZE"]
    size = page_size(default)
    result = db.paginate(query, page=page or page_number(arg), per_page=size if size in sizes else default,
                         error_out=False, **kwargs)
    result.sizes = sizes
    return result


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
        item_state_label=item_state_label,
        event_reason=event_reason,
        certificate_level_label=lambda v: code_label(CERTIFICATE_LEVEL, v),
        relation_label=lambda v: code_label(RELATION, v),
        user_identity=user_identity,
        order_state_label=lambda v: ORDER_STATE[str(v)],
        enum_label=lambda kind, v: ENUM_LABELS[kind].get(str(v), v),
        enum_kinds=ENUM_LABELS,
        frequency_label=lambda v: FREQUENCY[str(v)],
        top_reasons=top_reasons,
        reason_words=reason_words,
        week_days=lambda: WEEK_DAYS,
        week_periods=lambda: WEEK_PERIODS,
        week_presets=lambda: WEEK_PRESETS,
        without_page=without_page,
        page_links=page_links,
        today_local=localtime.today,
        page_sizes=lambda: PAGE_SIZES,
        visit_flag_labels=visit_flag_labels,
        portal_nav=portal_nav,
        portal_menu=portal_menu,
    )
