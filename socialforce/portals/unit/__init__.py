"""Pairing-unit portal."""
from socialforce.portals.unit import visits  # noqa: F401  (registers routes)
from socialforce.portals.unit.views import bp

__all__ = ["bp"]
