"""Pairing-unit portal."""
from socialforce.portals.unit import households  # noqa: F401  (registers routes)
from socialforce.portals.unit.views import bp

__all__ = ["bp"]
