"""Staff oversight views: the dashboard, its table downloads, the records behind each figure, the monthly report."""
from __future__ import annotations

from urllib.parse import urlencode

from flask import current_app, flash, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from socialforce.platform import reference
from socialforce.platform.inputs import page_number, page_size
from socialforce.platform.localtime import today
from socialforce.platform.models import utcnow
from socialforce.platform.services import ServiceError, dashboard, reports
from socialforce.platform.services.exports import write_xlsx
from socialforce.portals import downloads

CHARTS = {  # table key -> (chart type, value columns, stacked)
    "households": ("doughnut", "1", False),
    "items_by_category": ("bar", "1,2,3,4", True),
    "items_by_town": ("bar", "1,2,3,4", True),
    "providers": ("bar", "6,7,8", False),
    "satisfaction": ("bar", "1", False),
    "overdue": ("bar", "1", False),
    "flagged": ("bar", "1", False),
    "volunteer_hours": ("bar", "2", False),
    "quota": ("bar", "4", False),
    "contracts": ("bar", "2,3", False),
}


def _filters() -> tuple[dashboard.Filters, int]:
    """The filters from the query string; bad input is flashed and the defaults are used (status 400)."""
    filters, error = _filters_or_error()
    if error is not None:
        flash(error.message, "danger")
        return filters, error.status
    return filters, 200


def _filters_or_error() -> tuple[dashboard.Filters, ServiceError | None]:
    """The filters from the query string, or the defaults and the error that refused them."""
    try:
        return dashboard.parse_filters(current_user, request.args, today()), None
    except ServiceError as e:
        return dashboard.parse_filters(current_user, {}, today()), e


def _choices() -> dict:
    towns = reference.scope_towns(current_user)
    categories = reference.categories()
    return {"towns": towns, "categories": categories}


def dashboard_page():
    """Figures per town, provider and category for the user's scope, with charts and downloadable tables; bad
    filters are refused next to their field with what was typed kept (the figures show the default period)."""
    filters, error = _filters_or_error()
    status = error.status if error is not None else 200
    data = dashboard.cached_build(current_user, filters, utcnow())

    bases: dict[str, str] = {}
    args = filters.as_args()

    def figure_url(link: tuple[str, dict]) -> str:
        """The records list of a figure; url_for once per figure, as a page has hundreds of links."""
        figure, params = link  # a figure's own parameter (e.g. its row's category) wins over the filter's
        if figure not in bases:
            bases[figure] = url_for("staff.dashboard_list", figure=figure)
        return f"{bases[figure]}?{urlencode({**args, **params})}"

    typed = {"from": filters.start.isoformat(), "to": filters.end.isoformat()}
    if error is not None:
        typed = {name: request.args.get(name, typed[name]) for name in typed}
    return render_template("staff/dashboard/index.html", data=data, charts=CHARTS, figure_url=figure_url,
                           error=error, typed=typed, **_choices()), status


def dashboard_export(key: str, fmt: str):
    """One dashboard table as .xlsx or .csv."""
    if fmt not in ("xlsx", "csv"):
        return render_template("error.html", code=404, message=_("Unknown download format.")), 404
    filters, status = _filters()
    if status != 200:
        return render_template("error.html", code=status, message=_("The filters are not valid.")), status
    try:
        table = dashboard.table(current_user, filters, key, utcnow())
    except ServiceError as e:
        return render_template("error.html", code=e.status, message=e.message), e.status
    name = f"{key}_{filters.start.isoformat()}_{filters.end.isoformat()}"
    return downloads.send_table("dashboard_table", fmt, name, table.header, table.rows, sheet_name=table.title,
                                table=key)


def dashboard_list(figure: str):
    """The records one dashboard figure counts (personal data masked), paginated."""
    filters, status = _filters()
    if status != 200:
        return render_template("error.html", code=status, message=_("The filters are not valid.")), status
    try:
        found = dashboard.records(figure, current_user, filters, request.args, utcnow())
    except ServiceError as e:
        return render_template("error.html", code=e.status, message=e.message), e.status
    page = dashboard.paginate(found.query, page_number(), page_size(current_app.config["PAGE_SIZE"]))
    return render_template("staff/dashboard/list.html", records=found, page=page, figure=figure,
                           filters=filters, towns=dashboard.town_names(), categories=dashboard.category_names())


def monthly_report():
    """The monthly report of a town (xlsx); without a month, the form to choose one."""
    if not request.args.get("month"):
        return render_template("staff/dashboard/report.html", default_month=today().strftime("%Y-%m"),
                               **_choices())
    try:
        report = reports.monthly(current_user, request.args.get("town"), request.args["month"], utcnow())
    except ServiceError as e:
        return render_template("staff/dashboard/report.html", default_month=today().strftime("%Y-%m"),
                               errors={e.field or "month": e.message}, **_choices()), e.status
    return downloads.send("monthly_report", write_xlsx(report.sheets), report.filename,
                          month=request.args["month"], town=request.args.get("town"))


def monthly_report_print():
    """The monthly report as a printable page (A4, the print stylesheet): the workbook's sheets as tables."""
    month = request.args.get("month") or today().strftime("%Y-%m")
    try:
        report = reports.monthly(current_user, request.args.get("town"), month, utcnow())
    except ServiceError as e:
        return render_template("staff/dashboard/report.html", default_month=today().strftime("%Y-%m"),
                               errors={e.field or "month": e.message}, **_choices()), e.status
    sheets = [(title, headers, list(rows)) for title, headers, rows in report.sheets]
    return render_template("staff/dashboard/report_print.html", sheets=sheets, month=month)

