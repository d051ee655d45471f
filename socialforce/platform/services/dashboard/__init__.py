"""The oversight dashboard for civil-affairs staff: figures per town, provider and service category.

Every figure is one SQL aggregate (no Python loop over records), and every figure has a records query
(`records`) that lists exactly the rows it counts, so each number on the page links to its list.

Layers, each a module: `filters` (the period, town and category from query arguments), `sql` (dialect switches
and the user's scope as WHERE clauses), `record_sets` (the record sets below, shared by figures and lists),
`tables` (the figures: one aggregate per table, and `build`), `cache` (whole dashboards reused while fresh) and
`records` (the rows behind each figure, paginated).

Filters: a period of local (Asia/Shanghai) dates [start, end], a town (town staff: always their own) and a
service category. Definitions (timestamps are naive UTC; the period is converted to UTC bounds):

- "material assistance": the household has a MaterialAssistance row whose month lies in the period
  (months from the first day of the start month to the end date).
- "service": the household has a ServiceItem (of the category, when filtered) that is open (not closed and
  registered before the period ends), or that has an order dispatched in the period. Households are counted as material only, material + service, or
  service only.
- Service items by status: items registered before the period ends and not closed before it starts, by
  current status, per category and per town.
- Time to dispatch: first Order.dispatched_at - ServiceItem.created_at, for items whose first dispatch falls
  in the period. Time to first visit: first visit time - ServiceItem.created_at, where a visit's time is its
  checkin_at (or starts_at for a completed visit without check-in), for items whose first visit falls in the
  period. Both are medians in hours of the whole seconds between the two times (sql.median).
- Per provider, over orders dispatched in the period: acceptance rate = accepted-or-later / responded;
  expiry rate = expired / dispatched; completion rate = (completed + evaluated) / accepted-or-later.
  Accepted-or-later = accepted, scheduled, in_service, completed, evaluated, or cancelled after a response;
  responded = accepted-or-later + declined. Individual volunteers and volunteer tasks form one row.
- Satisfaction distribution: the household's own satisfaction (HouseholdFeedback.satisfaction, 1-5) from the
  follow-ups (回访) recorded in the period; providers' assessments of their own service are not counted.
- Overdue visits: visits starting in the period that are planned and not checked in 2 hours after their
  start (at `now`), or marked missed.
- Flagged visits: visits checked in during the period whose check-in or check-out looks implausible (Visit.flags:
  a very short stay, a check-in far from the planned time or from the village; services/visits.py).
- Volunteer hours: the sum of confirmed ServiceRecord.minutes served in the period (by the household's town).
- Pairing quota compliance (month of the period's end): the share of active pairings (Pairing.ended_on NULL)
  whose household had at least unit.monthly_visit_quota completed visits by that unit in the month
  (visits -> orders -> provider_id). The category filter does not apply.
- Contract hours: Contract.used_hours vs purchased_hours per agency, for contracts overlapping the period;
  with a town, the agencies with a service offer covering the town. The category filter does not apply.
"""
from socialforce.platform.services.dashboard.cache import cache_seconds, cached_build, clear_cache
from socialforce.platform.services.dashboard.filters import (
    Filters,
    default_period,
    month_bounds,
    parse_filters,
)
from socialforce.platform.services.dashboard.records import Records, paginate, records
from socialforce.platform.services.dashboard.sql import item_scope, median, scope
from socialforce.platform.services.dashboard.tables import (
    STATUSES,
    TABLE_KEYS,
    Dashboard,
    Table,
    build,
    category_names,
    rate,
    table,
    time_values,
    town_names,
)

__all__ = [
    "STATUSES", "TABLE_KEYS", "Dashboard", "Filters", "Records", "Table", "build", "cache_seconds", "cached_build",
    "category_names", "clear_cache", "default_period", "item_scope", "median", "month_bounds",
    "paginate", "parse_filters", "rate", "records", "scope", "table", "time_values", "town_names",
]
