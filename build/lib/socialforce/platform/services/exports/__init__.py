"""Spreadsheet exports: pure .xlsx/.csv writers (`writers`) and the staff lists as tables (`tables`).

The HTTP side (the audited download, its file name and headers) is portals/downloads.py.
"""
from socialforce.platform.services.exports.tables import (
    households_count,
    households_table,
    items_count,
    items_table,
    orders_count,
    orders_table,
)
from socialforce.platform.services.exports.writers import Sheet, neutralise, table_file, write_csv, write_xlsx

__all__ = ["Sheet", "households_count", "households_table", "items_count", "items_table", "neutralise",
           "orders_count", "orders_table", "table_file", "write_csv",
           "write_xlsx"]
