"""CLI commands: seed-demo, create-admin, create-user, demo-logins, rebuild-aggregates."""
from __future__ import annotations

import os
import time
from datetime import datetime

import click
import sqlalchemy as sa
from flask import Flask

from socialforce.platform import backup, links, localtime
from socialforce.platform.extensions import db
from socialforce.platform.models import Role, Town, utcnow
from socialforce.platform.scheduler import commands as scheduler_commands
from socialforce.platform.services import ServiceError, account_admin
from socialforce.platform.services.accounts import create_user
from socialforce.platform.worker import commands as worker_commands


def init_app(app: Flask) -> None:
    """Register the commands on the app."""
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(create_user_command)
    app.cli.add_command(create_admin_command)
    app.cli.add_command(demo_logins_command)
    app.cli.add_command(rebuild_aggregates_command)
    scheduler_commands.init_app(app)  # scheduler, run-job
    backup.init_app(app)  # backup, restore
    worker_commands.init_app(app)  # worker


@click.command("seed-demo")
@click.option("--scale", type=click.FloatRange(0.0005, 2.0), default=0.01, show_default=True,
              help="1.0 is Tengzhou's real size (about 40,000 households, 259,600 volunteers).")
@click.option("--if-empty", is_flag=True, help="Do nothing if households already exist.")
@click.option("--seed", type=int, default=2020, show_default=True, help="Random seed (same seed, same data).")
@click.option("--today", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="The demo's 'today' (YYYY-MM-DD); default: today in Tengzhou, so open orders are current.")
@click.option("--counties", type=click.IntRange(1, 6), default=1, show_default=True,
              help="How many counties of Zaozhuang (Tengzhou first), each at SCALE with its own towns and codes.")
def seed_demo_command(scale: float, if_empty: bool, seed: int, today: datetime | None, counties: int) -> None:
    """Build a deterministic synthetic Tengzhou (and more counties) at SCALE (bulk inserts, one transaction)."""
    from socialforce.platform.seed import seed_demo  # the seed (NumPy-heavy) loads only for these commands

    if os.environ.get("SOCIALFORCE_ENV") == "production":
        raise click.ClickException("seed-demo is refused in production")
    if if_empty and db.session.scalar(sa.text("SELECT count(*) FROM households")):
        click.echo("database already has households; not seeding")
        return
    started = time.perf_counter()

    def progress(stage: str, done: int, total: int) -> None:
        click.echo(f"  {stage}: {done}/{total}", err=True)

    try:
        day = today.date() if today else localtime.today()
        counts = seed_demo(scale=scale, seed=seed, progress=progress, today=day, counties=counties)
    except ValueError as e:
        db.session.rollback()
        raise click.ClickException(str(e)) from None
    db.session.commit()
    _analyze()
    click.echo(f"seeded scale {scale} in {time.perf_counter() - started:.1f} s: "
               + ", ".join(f"{k}={v}" for k, v in counts.items()))


def _analyze() -> None:
    """Refresh the query planner's statistics after the bulk load (SQLite: ANALYZE; PostgreSQL: VACUUM ANALYZE,
    which also sets the visibility map so that index-only scans need no heap fetches)."""
    statement = "VACUUM ANALYZE" if db.engine.dialect.name == "postgresql" else "ANALYZE"
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text(statement))


@click.command("rebuild-aggregates")
@click.option("--now", type=click.DateTime(["%Y-%m-%dT%H:%M", "%Y-%m-%d"]), default=None,
              help="Naive-UTC time to rebuild as of (default: now); aggregates cover days up to the day before.")
def rebuild_aggregates_command(now: datetime | None) -> None:
    """Recompute every dashboard pre-aggregate from the raw rows (one transaction)."""
    from socialforce.platform.services.dashboard import aggregates

    started = time.perf_counter()
    result = aggregates.rebuild(now or utcnow())
    db.session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in ("dashboard_daily", "dashboard_monthly"):  # the planner's statistics of the new rows
            conn.execute(sa.text(f"ANALYZE {table}"))
    click.echo(f"rebuilt dashboard aggregates {result['first_day']} to {result['last_day']}: "
               f"{result['rows']} rows in {time.perf_counter() - started:.1f} s")


@click.command("demo-logins")
def demo_logins_command() -> None:
    """Print the demo logins for every role."""
    from socialforce.platform.seed import DEMO_LOGINS, DEMO_PASSWORD

    click.echo(f"Demo logins (password for all: {DEMO_PASSWORD}):")
    for username, role, note in DEMO_LOGINS:
        click.echo(f"  {username:<14} {role:<14} {note}")


@click.command("create-user")
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--name", "display_name", required=True)
@click.option("--town", "town_code", help="Town code, for town staff.")
@click.option("--provider-id", type=int, help="Provider id, for provider roles.")
@click.password_option()
def create_user_command(username: str, role: str, display_name: str, town_code: str | None,
                        provider_id: int | None, password: str) -> None:
    """Create a user (for example the first city staff account)."""
    town_id = None
    if town_code:
        town_id = db.session.scalar(sa.select(Town.id).where(Town.code == town_code))
        if town_id is None:
            raise click.ClickException(f"unknown town code {town_code!r}")
    try:
        create_user(username, password, Role(role), display_name, town_id=town_id, provider_id=provider_id)
        db.session.commit()
    except sa.exc.IntegrityError as e:
        db.session.rollback()
        raise click.ClickException(f"could not create the user: {e.orig}") from None
    click.echo(f"created {username} ({role})")


ADMIN_EXISTS = ("this county has a city-staff account already: log in with it (a city-staff colleague can reset its "
                "password), or pass --force-another to add one more")


@click.command("create-admin")
@click.option("--username", default="admin", show_default=True, help="Login name of the city-staff account.")
@click.option("--name", "display_name", default="市民政局管理员", show_default=True, help="Name shown in the pages.")
@click.option("--link", is_flag=True, help="Print a one-time set-password link (valid 24 h) instead of asking for a "
                                          "password.")
@click.option("--force-another", is_flag=True, help="Create it even though the county has a city-staff account.")
@click.option("--county", "county_code", help="County code (default: the only county; required when there are "
                                               "several).")
def create_admin_command(username: str, display_name: str, link: bool, force_another: bool,
                         county_code: str | None) -> None:
    """Create a county's first city-staff account (a password asked twice, or --link)."""
    from socialforce.portals.links import reset_link_path

    try:
        county = account_admin.admin_county(county_code)  # before asking for a password
    except ServiceError as e:
        db.session.rollback()
        raise click.ClickException(e.message) from None
    if not force_another and account_admin.city_staff_exists(county):
        raise click.ClickException(ADMIN_EXISTS)
    password = None
    if not link:
        password = click.prompt("Password", hide_input=True, confirmation_prompt="Repeat the password")
    try:
        _user, issued = account_admin.create_first_admin(username, display_name, password, force_another, utcnow(),
                                                         county)
        db.session.commit()
    except account_admin.AdminExists:
        db.session.rollback()
        raise click.ClickException(ADMIN_EXISTS) from None
    except (ServiceError, sa.exc.IntegrityError) as e:
        db.session.rollback()
        raise click.ClickException(getattr(e, "message", None) or f"could not create the account: {e}") from None
    click.echo(f"created city-staff account {username} of county {county.code}")
    if issued is not None:
        url = links.absolute(reset_link_path(issued.secret))
        click.echo(f"set its password within 24 hours (shown once, works once): {url}")
