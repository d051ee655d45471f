"""Civil-affairs staff portal (city staff see all towns; town staff their own)."""
from socialforce.portals.staff.views import bp

__all__ = ["bp"]
