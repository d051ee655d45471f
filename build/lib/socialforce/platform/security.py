"""Web security: response headers (CSP with a per-request nonce), session idle and absolute timeouts, the end of
every session at logout, and the append-only guard on the audit log.

Login throttling lives in services/accounts.py (reserve_login, login_succeeded); the login view applies it.
"""
from __future__ import annotations

import secrets
import time

import sqlalchemy as sa
from flask import Flask, current_app, flash, g, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, logout_user, user_logged_in, user_logged_out
from sqlalchemy.orm import Session
from werkzeug.middleware.proxy_fix import ProxyFix

from socialforce.platform.extensions import db
from socialforce.platform.models import AuditLog
from socialforce.platform.services import accounts

LOGIN_AT, SEEN_AT = "_login_at", "_seen_at"  # session keys: epoch seconds of login and of the last request
SEEN_RESOLUTION = 30  # seconds: last-seen is rewritten at most this often (not a new cookie on every request)
PERMISSIONS_POLICY = "camera=(), microphone=(), payment=(), usb=(), interest-cohort=(), geolocation=(self)"


class AuditLogIsAppendOnly(RuntimeError):
    """Raised when application code tries to change or delete an audit record."""


def init_app(app: Flask) -> None:
    """Install the headers, session timeouts, logout hook, the audit-log guard and the trusted proxies."""
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies:  # request.remote_addr is then the client address the last `proxies` proxies saw
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    app.before_request(_enforce_session_timeouts)
    app.before_request(require_new_password)
    app.after_request(_set_security_headers)
    app.context_processor(lambda: {"csp_nonce": csp_nonce})
    user_logged_in.connect(_stamp_login, app)
    user_logged_out.connect(_end_sessions_at_logout, app)
    if not sa.event.contains(Session, "before_flush", _refuse_audit_changes):
        sa.event.listen(Session, "before_flush", _refuse_audit_changes)
        sa.event.listen(Session, "do_orm_execute", _refuse_audit_bulk_changes)


def csp_nonce() -> str:
    """This request's CSP nonce: put nonce="{{ csp_nonce() }}" on an inline <script> that must run."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def content_security_policy(nonce: str) -> str:
    """The policy: only this site's scripts (plus nonced inline ones), no framing, no plugins, forms to self."""
    return "; ".join((
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}'",
        "style-src 'self' 'unsafe-inline'",  # style="" attributes (progress bars); scripts stay strict
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ))


def _set_security_headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", content_security_policy(csp_nonce()))
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    hsts = int(current_app.config.get("HSTS_SECONDS") or 0)
    if hsts:
        headers.setdefault("Strict-Transport-Security", f"max-age={hsts}; includeSubDomains")
    if request.endpoint != "static" and session.get("_user_id"):
        headers.setdefault("Cache-Control", "no-store")  # pages of a logged-in user stay off shared caches
    return response


def _stamp_login(_sender, user, **_extra) -> None:
    now = int(time.time())
    session[LOGIN_AT] = now
    session[SEEN_AT] = now


def _enforce_session_timeouts():
    """End a logged-in session idle longer than SESSION_IDLE_MINUTES or older than SESSION_ABSOLUTE_HOURS."""
    if request.endpoint == "static" or not session.get("_user_id"):
        return None
    now = int(time.time())
    config = current_app.config
    login_at = session.get(LOGIN_AT)
    seen_at = session.get(SEEN_AT, login_at)
    idle = now - seen_at if isinstance(seen_at, int) else None
    age = now - login_at if isinstance(login_at, int) else None
    if (idle is None or age is None or idle > int(config["SESSION_IDLE_MINUTES"]) * 60
            or age > int(config["SESSION_ABSOLUTE_HOURS"]) * 3600):
        g.session_timed_out = True  # the cookie dies with its stamps; other devices stay logged in
        logout_user()
        lang = session.get("lang")
        session.clear()
        if lang:
            session["lang"] = lang
        flash(_("Your session has expired. Please log in again."), "warning")
        return redirect(url_for("public.login", next=request.full_path if request.method == "GET" else None))
    if idle >= SEEN_RESOLUTION:
        session[SEEN_AT] = now
    return None


# What a user who must choose a new password may still open (every other page sends them to change it).
NEW_PASSWORD_OPEN = frozenset({"static", "public.change_password", "public.logout", "public.set_language"})


def require_new_password():
    """After a reset (must_change_password), every page of every portal sends the user to the change-password
    page until they have chosen a new password."""
    if request.endpoint in NEW_PASSWORD_OPEN or not session.get("_user_id"):
        return None
    if current_user.is_authenticated and current_user.must_change_password:
        return redirect(url_for("public.change_password"))
    return None


def _end_sessions_at_logout(_sender, user, **_extra) -> None:
    """Logging out ends every session of the user, so a copied cookie of this session is dead too."""
    if g.get("session_timed_out") or user is None or not getattr(user, "is_authenticated", False):
        return
    accounts.end_sessions(user)
    db.session.commit()


def _refuse_audit_changes(session_: Session, _context, _instances) -> None:
    """Refuse a flush that updates or deletes an audit record (the application only appends)."""
    changed = [obj for obj in session_.dirty if isinstance(obj, AuditLog) and session_.is_modified(obj)]
    deleted = [obj for obj in session_.deleted if isinstance(obj, AuditLog)]
    if changed or deleted:
        raise AuditLogIsAppendOnly("audit records are append-only: no update or delete")


def _refuse_audit_bulk_changes(state) -> None:
    """Refuse ORM bulk UPDATE/DELETE statements on AuditLog (session.execute(sa.update(AuditLog)...))."""
    if (state.is_update or state.is_delete) and state.is_orm_statement:
        mapper = state.bind_mapper
        if mapper is not None and mapper.class_ is AuditLog:
            raise AuditLogIsAppendOnly("audit records are append-only: no update or delete")
