"""Agency portal (social-work agencies)."""
from socialforce.portals.agency import visits  # noqa: F401  (registers routes)
from socialforce.portals.agency.views import bp

__all__ = ["bp"]
