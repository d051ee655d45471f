"""Pairing-unit portal."""
from socialforce.portals.unit.views import bp

__all__ = ["bp"]
