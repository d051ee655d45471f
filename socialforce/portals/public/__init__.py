"""Public pages: home, login/logout, language switch."""
from socialforce.portals.public.views import bp

__all__ = ["bp"]
