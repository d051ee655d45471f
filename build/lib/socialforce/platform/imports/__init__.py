"""Importing households, members and service items from .xlsx/.csv: reading, validation rules, writing."""
