"""Civil-affairs staff portal (city staff see all towns; town staff their own)."""
import socialforce.portals.staff.dashboard  # noqa: F401  (registers routes)
from socialforce.portals.staff import items  # noqa: F401  (registers routes)
from socialforce.portals.staff import exports, imports  # noqa: F401  (registers routes)
from socialforce.portals.staff import visits  # noqa: F401  (registers routes)
from socialforce.portals.staff.views import bp

__all__ = ["bp"]
