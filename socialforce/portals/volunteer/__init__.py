"""Volunteer portal."""
from socialforce.portals.volunteer.views import bp

__all__ = ["bp"]
