"""Locale selection: the user's choice in the session (API: the token user's, else Accept-Language), else Chinese (zh_CN); times in Asia/Shanghai."""
from __future__ import annotations

from datetime import datetime

from flask import Flask, current_app, g, has_request_context, request, session

from socialforce.platform.localtime import to_local


def select_locale() -> str:
    """The locale for this request (the default outside requests: jobs, CLI)."""
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    languages = current_app.config["LANGUAGES"]
    if request.path.startswith("/api/"):  # the JSON API has no session: the token user's choice, else the header
        user = g.get("api_user")
        if user is not None and user.locale in languages:
            return user.locale
        return request.accept_languages.best_match(languages) or current_app.config["BABEL_DEFAULT_LOCALE"]
    lang = session.get("lang")
    return lang if lang in current_app.config["LANGUAGES"] else current_app.config["BABEL_DEFAULT_LOCALE"]


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Format a naive-UTC timestamp in Asia/Shanghai."""
    if value is None:
        return ""
    return to_local(value).strftime(fmt)


def init_app(app: Flask) -> None:
    """Register the template helpers."""
    app.jinja_env.filters["local"] = local_time
    app.jinja_env.globals["current_locale"] = select_locale
