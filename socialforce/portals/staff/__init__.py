"""Civil-affairs staff portal (city staff see all towns; town staff their own)."""
import socialforce.portals.staff.dashboard  # noqa: F401  (registers routes)
from socialforce.portals.staff import (  # noqa: F401  (registers routes)
    audit_log,
    exports,
    feedback,
    imports,
    items,  # noqa: F401  (registers routes)
    providers,
    visits,  # noqa: F401  (registers routes)
)
from socialforce.portals.staff.views import bp

__all__ = ["bp"]
