"""What a list's rows show, loaded with the rows in a few queries, never one query per row (N+1)."""
from __future__ import annotations

from sqlalchemy.orm import selectinload

from socialforce.platform.models import Household, Order, ServiceItem, ServiceRecord, Visit

HOUSEHOLD_ROW = (selectinload(Household.town), selectinload(Household.village))
"""A household row: its town and village."""
ITEM_ROW = (selectinload(ServiceItem.category), selectinload(ServiceItem.household).options(*HOUSEHOLD_ROW))
"""A service item row: its category and household (with its place)."""
ORDER_ROW = (selectinload(Order.item).options(*ITEM_ROW), selectinload(Order.provider))
"""An order row: its item (as an item row) and provider."""
RECORD_ROW = (selectinload(ServiceRecord.visit).selectinload(Visit.order).options(*ORDER_ROW),
              selectinload(ServiceRecord.volunteer))
"""A service-hours record row: its visit (with its order) and volunteer."""
