"""The public, read-only provider directory in Open Referral HSDS 3.0 JSON (no login, GET only)."""
from socialforce.portals.hsds.views import bp

__all__ = ["bp"]
