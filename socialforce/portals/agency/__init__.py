"""Agency portal (social-work agencies)."""
from socialforce.portals.agency.views import bp

__all__ = ["bp"]
