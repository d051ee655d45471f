"""Configuration classes, chosen by SOCIALFORCE_ENV and read from environment variables."""
from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("SOCIALFORCE_INSTANCE", BASE_DIR / "instance"))


def _database_url(default_name: str) -> str:
    """DATABASE_URL if set (PostgreSQL in production), else a SQLite file in the instance folder."""
    url = os.environ.get("DATABASE_URL")
    if url:
        if url.startswith("postgresql://"):  # use psycopg 3, not psycopg2
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        return url
    return f"sqlite:///{INSTANCE_DIR / default_name}"


# Secret keys published in this repository's config: never accepted outside the test suite.
LEGACY_DEV_SECRET_KEY = "dev-only-not-secret"  # signed every development session before instance keys existed
PUBLISHED_SECRET_KEYS = frozenset({LEGACY_DEV_SECRET_KEY, "test-secret"})


def refuse_published_secret(secret_key: str | None) -> None:
    """Refuse to start with a secret key that anyone can read in this repository."""
    if secret_key in PUBLISHED_SECRET_KEYS:
        raise RuntimeError("SECRET_KEY is a published value; set a random one (e.g. python -c "
                           "'import secrets; print(secrets.token_urlsafe(48))')")


class Config:
    """Settings shared by every environment."""

    # Session signing; development creates a random one in instance/secret_key (socialforce/platform/instance_keys.py).
    SECRET_KEY = os.environ.get("SECRET_KEY")
    # Field-level encryption key for resident IDs and phones (a Fernet key); instance/data_key in development.
    DATA_KEY = os.environ.get("SOCIALFORCE_DATA_KEY")
    SQLALCHEMY_DATABASE_URI = _database_url("socialforce.db")
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    SQLITE_BUSY_TIMEOUT_MS = 10_000
    BABEL_DEFAULT_LOCALE = "zh_CN"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    LANGUAGES = ("zh_CN", "en")
    WTF_CSRF_TIME_LIMIT = None
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    PERMANENT_SESSION_LIFETIME = timedelta(hours=8)
    # Security (socialforce/platform/security.py, services/accounts.py): lockout, session timeouts, HSTS.
    PASSWORD_HASH_METHOD = "scrypt:32768:8:1"  # werkzeug's default work factor
    LOGIN_MAX_FAILURES = int(os.environ.get("LOGIN_MAX_FAILURES", "5"))  # per account at one address, per window
    LOGIN_MAX_FAILURES_PER_IP = int(os.environ.get("LOGIN_MAX_FAILURES_PER_IP", "30"))
    LOGIN_LOCK_MINUTES = int(os.environ.get("LOGIN_LOCK_MINUTES", "15"))
    # Getting back in (services/password_reset.py, services/contacts.py): codes asked for per address (IP) and per
    # account, and verification codes per account, in windows of FORGOT_WINDOW_MINUTES.
    FORGOT_MAX_PER_IP = int(os.environ.get("FORGOT_MAX_PER_IP", "20"))
    FORGOT_MAX_PER_ACCOUNT = int(os.environ.get("FORGOT_MAX_PER_ACCOUNT", "3"))
    FORGOT_WINDOW_MINUTES = int(os.environ.get("FORGOT_WINDOW_MINUTES", "60"))
    VERIFY_MAX_PER_ACCOUNT = int(os.environ.get("VERIFY_MAX_PER_ACCOUNT", "5"))
    # The address the platform is reached at, for links that leave the site (create-admin --link, certificate QR
    # codes, the household's SMS link); unset: the request's own host, or http://127.0.0.1:5000 outside a request.
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "")
    # Reverse proxies in front of the app whose X-Forwarded-For/-Proto/-Host are trusted (0: use the peer address).
    TRUSTED_PROXIES = int(os.environ.get("TRUSTED_PROXIES", "0"))
    SESSION_IDLE_MINUTES = int(os.environ.get("SESSION_IDLE_MINUTES", "30"))
    SESSION_ABSOLUTE_HOURS = int(os.environ.get("SESSION_ABSOLUTE_HOURS", "8"))
    HSTS_SECONDS = 0
    MAX_CONTENT_LENGTH = 20 * 1024 * 1024
    PAGE_SIZE = 25
    DASHBOARD_CACHE_SECONDS = int(os.environ.get("DASHBOARD_CACHE_SECONDS", "60"))  # 0: build on every view
    # PostgreSQL: the dashboard's slowest figures (households by kind, pairing quota) run on a connection each
    # beside the others (services/dashboard/tables.py: build); they see committed rows only. 0: one connection.
    DASHBOARD_PARALLEL = os.environ.get("DASHBOARD_PARALLEL", "1") == "1"
    # freeze the objects alive once the app is built, so the garbage collector's full passes skip them
    # (socialforce/platform/heap.py); off in tests, which build many apps and must let old ones go
    GC_FREEZE_AT_START = os.environ.get("GC_FREEZE_AT_START", "1") == "1"
    # how old the API's counted figures may be (the staff orders board's counts per state and total, the dashboard
    # figures), whatever changed meanwhile; 0: counted on every request (the portal pages always show the latest)
    API_FIGURES_CACHE_SECONDS = int(os.environ.get("API_FIGURES_CACHE_SECONDS", "30"))
    # The cache every process shares (socialforce/platform/caching.py, Flask-Caching): Redis when CACHE_REDIS_URL
    # (or REDIS_URL) is set, else files under CACHE_DIR (instance/cache) shared by the processes of one machine.
    CACHE_REDIS_URL = os.environ.get("CACHE_REDIS_URL") or os.environ.get("REDIS_URL")
    CACHE_TYPE = os.environ.get("CACHE_TYPE") or ("RedisCache" if CACHE_REDIS_URL else "FileSystemCache")
    CACHE_DIR = os.environ.get("CACHE_DIR") or str(INSTANCE_DIR / "cache")
    CACHE_KEY_PREFIX = os.environ.get("CACHE_KEY_PREFIX", "socialforce:")
    CACHE_DEFAULT_TIMEOUT = int(os.environ.get("CACHE_DEFAULT_TIMEOUT", "300"))
    RESPONSE_DEADLINE_HOURS = 48
    # Implausible visits (services/visits.plausibility_flags) are accepted but flagged for the staff confirming hours.
    VISIT_MIN_MINUTES = int(os.environ.get("VISIT_MIN_MINUTES", "10"))  # a check-out sooner after check-in
    VISIT_CHECKIN_DRIFT_HOURS = float(os.environ.get("VISIT_CHECKIN_DRIFT_HOURS", "1"))  # from the planned start
    VISIT_MAX_DISTANCE_KM = float(os.environ.get("VISIT_MAX_DISTANCE_KM", "3"))  # check-in/out from the village
    MAX_DISPATCH_FAILURES = 3
    # A place freed on a full volunteer task is held this long for the first on its waitlist (services/waitlist.py).
    WAITLIST_OFFER_HOURS = float(os.environ.get("WAITLIST_OFFER_HOURS", "24"))
    # Scheduler (`flask scheduler`): the job list, the lease that lets one process schedule, stale-run takeover.
    SCHEDULER_JOBS = os.environ.get("SOCIALFORCE_SCHEDULER_JOBS", "socialforce.platform.scheduler.jobs:JOBS")
    SCHEDULER_LEASE_SECONDS = float(os.environ.get("SCHEDULER_LEASE_SECONDS", "60"))
    SCHEDULER_RENEW_SECONDS = float(os.environ.get("SCHEDULER_RENEW_SECONDS", "20"))
    SCHEDULER_STALE_RUN_SECONDS = int(os.environ.get("SCHEDULER_STALE_RUN_SECONDS", "900"))
    # Background jobs (`flask worker`, services/background.py): the task queue (Huey) on the instance folder's SQLite
    # file unless QUEUE_URL / REDIS_URL names a Redis server; heartbeat, lease and attempts of a job's worker.
    QUEUE_URL = os.environ.get("QUEUE_URL") or os.environ.get("REDIS_URL")
    QUEUE_IMMEDIATE = False  # run each job in-process when committed (the tests)
    JOB_HEARTBEAT_SECONDS = float(os.environ.get("JOB_HEARTBEAT_SECONDS", "5"))
    JOB_LEASE_SECONDS = float(os.environ.get("JOB_LEASE_SECONDS", "60"))  # no heartbeat for this long: worker lost
    JOB_MAX_ATTEMPTS = int(os.environ.get("JOB_MAX_ATTEMPTS", "2"))  # then a lost job is failed with the reason
    EXPORT_DIRECT_MAX_ROWS = int(os.environ.get("EXPORT_DIRECT_MAX_ROWS", "10000"))  # larger exports are jobs
    # A batch dispatch whose items fall into independent parts (no offer serves two) solves each part as its own
    # job (any worker), at most this many; 1 solves every batch in one job.
    MATCH_PARTS_MAX = int(os.environ.get("MATCH_PARTS_MAX", "8"))
    # Threads a worker's matching job scores blocks on: on a machine of C cores running W workers, C // W.
    MATCH_THREADS = int(os.environ.get("MATCH_THREADS", "2"))
    # Notifications: external channels besides the in-app inbox ("log", "email", "sms"), retries, adapters.
    NOTIFY_CHANNELS = [c.strip() for c in os.environ.get("NOTIFY_CHANNELS", "log").split(",") if c.strip()]
    NOTIFY_MAX_ATTEMPTS = int(os.environ.get("NOTIFY_MAX_ATTEMPTS", "8"))
    NOTIFY_BACKOFF_SECONDS = int(os.environ.get("NOTIFY_BACKOFF_SECONDS", "60"))
    NOTIFY_BACKOFF_MAX_SECONDS = int(os.environ.get("NOTIFY_BACKOFF_MAX_SECONDS", str(6 * 3600)))
    SMTP_HOST = os.environ.get("SMTP_HOST")
    SMTP_PORT = int(os.environ.get("SMTP_PORT", "25"))
    SMTP_USER = os.environ.get("SMTP_USER")
    SMTP_PASSWORD = os.environ.get("SMTP_PASSWORD")
    SMTP_STARTTLS = os.environ.get("SMTP_STARTTLS", "0") == "1"
    SMTP_FROM = os.environ.get("SMTP_FROM", "noreply@socialforce.local")
    NOTIFY_TIMEOUT_SECONDS = float(os.environ.get("NOTIFY_TIMEOUT_SECONDS", "10"))  # per SMTP / gateway call
    # SMS through a signed-template gateway (services/channels.py): kind of notice -> approved template code, as
    # JSON, e.g. {"text": "SMS_000001", "order_dispatched": "SMS_000002"}; "text" carries free text.
    SMS_GATEWAY_URL = os.environ.get("SMS_GATEWAY_URL")
    SMS_GATEWAY_TOKEN = os.environ.get("SMS_GATEWAY_TOKEN")
    SMS_APP_KEY = os.environ.get("SMS_APP_KEY")
    SMS_APP_SECRET = os.environ.get("SMS_APP_SECRET")
    SMS_SIGN_NAME = os.environ.get("SMS_SIGN_NAME", "")
    SMS_TEMPLATES = json.loads(os.environ.get("SMS_TEMPLATES") or "{}")
    # Hours certificates (services/hours.py): who issues them, how to reach them.
    CERTIFICATE_ISSUER = os.environ.get("CERTIFICATE_ISSUER", "滕州市民政局")
    CERTIFICATE_CONTACT = os.environ.get("CERTIFICATE_CONTACT", "滕州市民政局社会救助服务中心")
    # The household's one-question satisfaction link (services/feedback_links.py): how long it stays valid.
    FEEDBACK_LINK_DAYS = int(os.environ.get("FEEDBACK_LINK_DAYS", "14"))
    # One-time codes and set-password links (services/one_time_codes.py): a daily job deletes those expired more
    # than this many days ago (used, voided or never used alike; the audit log keeps who issued and used them).
    ONE_TIME_CODE_RETENTION_DAYS = int(os.environ.get("ONE_TIME_CODE_RETENTION_DAYS", "30"))
    # /api/v1 partners (services/partners.py, portals/api/partner.py, ratelimit.py): issued tokens' lifetime, the
    # per-token and per-address rate limits (Flask-Limiter syntax), where the counters live (redis://... or memory).
    API_CLIENT_TOKEN_SECONDS = int(os.environ.get("API_CLIENT_TOKEN_SECONDS", "900"))
    API_RATE_LIMIT = os.environ.get("API_RATE_LIMIT", "600/minute")
    API_RATE_LIMIT_ANONYMOUS = os.environ.get("API_RATE_LIMIT_ANONYMOUS", "30/minute")
    # Shared by every process when a Redis is named (one count per token across web machines); else per process.
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI") or os.environ.get("REDIS_URL") or "memory://"
    RATELIMIT_KEY_PREFIX = os.environ.get("RATELIMIT_KEY_PREFIX", "socialforce-api")
    # /api/v1/changes leaves out rows changed in the last seconds, so a transaction still committing is not skipped.
    CHANGES_SETTLE_SECONDS = int(os.environ.get("CHANGES_SETTLE_SECONDS", "5"))
    TESTING = False
    DEBUG = False


class DevelopmentConfig(Config):
    """Local development: SQLite in the instance folder."""

    DEBUG = True


class TestingConfig(Config):
    """The test suite: its own database (DATABASE_URL for PostgreSQL), CSRF on like production."""

    TESTING = True
    SQLALCHEMY_DATABASE_URI = _database_url("test.db")
    DASHBOARD_CACHE_SECONDS = API_FIGURES_CACHE_SECONDS = 0
    DASHBOARD_PARALLEL = False  # tests build dashboards over flushed, uncommitted rows; the recount test turns it on
    GC_FREEZE_AT_START = False
    # One process's memory unless a test's environment names a shared cache (its gunicorn processes do).
    CACHE_TYPE = os.environ.get("CACHE_TYPE") or ("RedisCache" if Config.CACHE_REDIS_URL else "SimpleCache")
    SECRET_KEY = "test-secret"
    # Jobs run in-process; a test's worker process (QUEUE_IMMEDIATE=0) and its app (override) use a real queue.
    QUEUE_IMMEDIATE = os.environ.get("QUEUE_IMMEDIATE", "1") == "1"
    API_RATE_LIMIT = API_RATE_LIMIT_ANONYMOUS = "100000/minute"  # a test that checks the limit sets its own
    CHANGES_SETTLE_SECONDS = 0
    PASSWORD_HASH_METHOD = "scrypt:1024:8:1"  # the same algorithm at a 32nd of the work: a check costs 3 ms, not 130


class ProductionConfig(Config):
    """Production: PostgreSQL and secrets from the environment, secure cookies."""

    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    REMEMBER_COOKIE_HTTPONLY = True
    HSTS_SECONDS = int(os.environ.get("HSTS_SECONDS", str(365 * 24 * 3600)))

    @classmethod
    def check(cls) -> None:
        """Refuse to start without the secrets that production needs."""
        missing = [name for name in ("SECRET_KEY", "SOCIALFORCE_DATA_KEY") if not os.environ.get(name)]
        if missing:
            raise RuntimeError("production needs these environment variables: " + ", ".join(missing))
        refuse_published_secret(os.environ["SECRET_KEY"])


CONFIGS = {"development": DevelopmentConfig, "testing": TestingConfig, "production": ProductionConfig}


def config_for(name: str | None = None) -> type[Config]:
    """The config class for a name, or for SOCIALFORCE_ENV (default development)."""
    name = name or os.environ.get("SOCIALFORCE_ENV", "development")
    try:
        return CONFIGS[name]
    except KeyError:
        raise RuntimeError(f"unknown SOCIALFORCE_ENV {name!r}; choose one of {sorted(CONFIGS)}") from None
