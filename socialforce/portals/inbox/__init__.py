"""The in-app inbox (every logged-in role) and the unread badge shown in every portal's navbar."""
from socialforce.portals.inbox.views import bp

__all__ = ["bp"]
