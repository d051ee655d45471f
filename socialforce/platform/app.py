"""The application factory."""
from __future__ import annotations

import logging
import sqlite3

import sqlalchemy as sa
from flask import Flask

from config import BASE_DIR, INSTANCE_DIR, DevelopmentConfig, ProductionConfig, config_for
from socialforce.platform import heap, inputs, instance_keys, localtime
from socialforce.platform.extensions import babel, csrf, db, login_manager, migrate
from socialforce.platform.models.orders import ORDER_STATE_GROUPS


def create_app(config_name: str | None = None, **overrides) -> Flask:
    """Build a configured app: extensions, blueprints, error handlers, CLI commands."""
    config = config_for(config_name)
    if config is ProductionConfig:
        ProductionConfig.check()
    app = Flask(
        "socialforce",
        instance_path=str(INSTANCE_DIR),
        static_folder="platform/static",
        template_folder="platform/templates",
    )
    app.config.from_object(config)
    app.config.update(overrides)
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    if config is DevelopmentConfig:  # never a published constant: the instance's own random keys
        instance_keys.use_instance_keys(app)
    inputs.init_app(app)  # first: the bounded `int` converter must exist before the blueprints' rules
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    logging.getLogger("socialforce").setLevel(logging.INFO)
    if app.config["GC_FREEZE_AT_START"]:
        heap.freeze_startup()
    return app


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """WAL, a busy timeout and enforced foreign keys on every SQLite connection."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.close()


def register_extensions(app: Flask) -> None:
    """Bind the extensions to the app."""
    from socialforce.platform import auth, caching, i18n, queue, security
    from socialforce.platform.services.dashboard import aggregates

    db.init_app(app)
    with app.app_context():
        if not sa.event.contains(db.engine, "connect", _sqlite_pragmas):
            sa.event.listen(db.engine, "connect", _sqlite_pragmas)
    migrate.init_app(app, db, directory=str(BASE_DIR / "migrations"))
    login_manager.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=i18n.select_locale, timezone_selector=lambda: localtime.ZONE_NAME)
    auth.init_app(app)
    i18n.init_app(app)
    app.jinja_env.globals["order_state_groups"] = ORDER_STATE_GROUPS  # e.g. order_state_groups.LIVE
    security.init_app(app)
    queue.init_app(app)
    caching.init_app(app)  # the cache every process shares (dashboard, matching index versions)
    aggregates.init_app(app)  # marks old days stale when their rows change


def register_blueprints(app: Flask) -> None:
    """Mount the public pages and the five role portals."""
    from socialforce.portals import (
        agency,
        api,
        hsds,
        inbox,
        links,
        page_helpers,
        provider,
        public,
        staff,
        unit,
        village,
        volunteer,
    )

    app.register_blueprint(public.bp)
    app.register_blueprint(provider.templates)  # no routes: the templates agency, unit, staff, volunteer share
    app.register_blueprint(staff.bp, url_prefix="/staff")
    app.register_blueprint(agency.bp, url_prefix="/agency")
    app.register_blueprint(unit.bp, url_prefix="/unit")
    app.register_blueprint(volunteer.bp, url_prefix="/volunteer")
    app.register_blueprint(village.bp, url_prefix="/village")
    app.register_blueprint(inbox.bp, url_prefix="/inbox")
    app.register_blueprint(hsds.bp, url_prefix="/hsds")
    api.init_app(app)  # /api/v1 and /api/v1/openapi.json
    page_helpers.init_app(app)
    links.init_app(app)


def register_errorhandlers(app: Flask) -> None:
    """Render 400/403/404/409/500 pages (JSON for JSON clients)."""
    from socialforce.platform import errors

    errors.init_app(app)


def register_commands(app: Flask) -> None:
    """Add the `seed-demo`, `create-user` and other CLI commands."""
    from socialforce.platform import cli

    cli.init_app(app)
