"""Volunteer portal."""
from socialforce.portals.volunteer import profile, tasks, visits  # noqa: F401  (registers routes)
from socialforce.portals.volunteer.views import bp

__all__ = ["bp"]
