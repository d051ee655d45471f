"""Where a notification points: services name the page's subject, the portals say its path (portals/links.py).

Services stay free of portal URLs: they call `links.to("staff_item", item)`, and each subject's path is
registered once by the portals at start-up. Paths are site-relative, as Notification.link stores them.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import current_app, has_request_context, request

LOCAL_BASE_URL = "http://127.0.0.1:5000"
_RESOLVERS: dict[str, Callable[[Any], str]] = {}


def register(subject: str, resolve: Callable[[Any], str]) -> None:
    """Say how the page about `subject` is addressed (called by the portals when the app is built)."""
    _RESOLVERS[subject] = resolve


def to(subject: str, value: Any = None) -> str:
    """The site-relative path of the page about `subject` (for example "staff_item" and an item)."""
    return _RESOLVERS[subject](value)


def absolute(path: str) -> str:
    """`path` as an absolute URL: PUBLIC_BASE_URL if set, else this request's host, else the local server."""
    base = current_app.config["PUBLIC_BASE_URL"] or (request.host_url if has_request_context() else LOCAL_BASE_URL)
    return base.rstrip("/") + path
