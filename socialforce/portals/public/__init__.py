"""Public pages: home, login/logout, language switch."""
from socialforce.portals.public import account  # noqa: F401  (registers /account/password on bp)
from socialforce.portals.public.views import bp

__all__ = ["bp"]
