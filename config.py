"""Settings of the MosPay switch, read from the environment.

Every setting has a sensible default for a laptop; production sets
``MOSPAY_ENV=production`` and must then provide real secrets.
"""

import json
import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
# The development keys earlier versions used, published in this repository: refused as keys everywhere.
DEFAULT_SECRET = "dev-only-secret-key-change-me-in-production"
DEFAULT_JWT_SECRET = "dev-only-jwt-secret-change-me-in-production"
GENERATED_SECRETS = ("SECRET_KEY", "JWT_SECRET_KEY")


def _env(name, default=None):
    value = os.environ.get(name)
    return default if value in (None, "") else value


def _env_int(name, default):
    return int(_env(name, default))


def _env_bool(name, default):
    return str(_env(name, default)).strip().lower() in ("1", "true", "yes", "on")


def development_secrets(data_dir):
    """Random ``SECRET_KEY`` and ``JWT_SECRET_KEY`` for development: made on first start, then read from
    ``data_dir/secrets.json`` (mode 0600), so a published key never signs anything."""
    path = Path(data_dir) / "secrets.json"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".secrets.{os.getpid()}.{secrets.token_hex(4)}")
        with os.fdopen(os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
            json.dump({name: secrets.token_urlsafe(48) for name in GENERATED_SECRETS}, file)
        try:
            os.link(draft, path)  # atomic and never overwrites: of processes starting together, one file wins
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return json.loads(path.read_text())


class Config:
    """All settings, one attribute each; ``from_env`` reads them."""

    def __init__(self, **overrides):
        self.ENV = _env("MOSPAY_ENV", "development")
        self.HOST = _env("HOST", "127.0.0.1")
        self.PORT = _env_int("PORT", 5000)
        # Unset outside production: random values kept in DATA_DIR/secrets.json (development_secrets).
        self.SECRET_KEY = _env("SECRET_KEY")
        self.JWT_SECRET_KEY = _env("JWT_SECRET_KEY")
        self.JWT_TTL_SECONDS = _env_int("JWT_TTL_SECONDS", 900)
        # No DATABASE_URL: an embedded PostgreSQL runs under DATA_DIR.
        self.DATABASE_URL = _env("DATABASE_URL")
        self.DATA_DIR = Path(_env("MOSPAY_DATA_DIR", BASE_DIR / "instance")).resolve()
        self.DB_POOL_MIN = _env_int("MOSPAY_DB_POOL_MIN", 2)
        self.DB_POOL_MAX = _env_int("MOSPAY_DB_POOL_MAX", 16)
        self.DB_POOL_TIMEOUT = float(_env("MOSPAY_DB_POOL_TIMEOUT", 5))
        self.ROUTES_DIR = Path(_env("MOSPAY_ROUTES_DIR", BASE_DIR / "routes_config")).resolve()
        # DATABASE_URL is the owner: it migrates and makes the roles. Serving processes and workers log in as
        # the app role it makes (mospay_app_<database oid>: DML only, never a superuser or the owner), unless
        # this names the URL to serve with (a role made by a DBA; see README "Database roles").
        self.APP_DATABASE_URL = _env("MOSPAY_APP_DATABASE_URL")
        # A streaming replica that pages, reports and exports read from (never the payment path); logged in as
        # the app role, which a replica has from its primary. Unset: they read the primary.
        self.DATABASE_READ_URL = _env("DATABASE_READ_URL")
        # OpenTelemetry: each payment a trace, exported over OTLP/HTTP to this collector. Unset: no tracing.
        self.OTLP_ENDPOINT = _env("MOSPAY_OTLP_ENDPOINT") or _env("OTEL_EXPORTER_OTLP_ENDPOINT")
        self.FUNCTION_TIMEOUT_MS = _env_int("MOSPAY_FUNCTION_TIMEOUT_MS", 2000)
        # Client functions run on one pool per worker, logged in as the function runner, each call through its
        # client's gate (migration 0074): at most FUNCTION_POOL_MAX connections, closed after
        # FUNCTION_POOL_IDLE_SECONDS unused. Defaults to the switch's own pool size: one call per serving thread.
        self.FUNCTION_POOL_MAX = _env_int("MOSPAY_FUNCTION_POOL_MAX", self.DB_POOL_MAX)
        self.FUNCTION_POOL_IDLE_SECONDS = float(_env("MOSPAY_FUNCTION_POOL_IDLE_SECONDS", 60))
        self.FUNCTION_POOL_LIFETIME_SECONDS = float(_env("MOSPAY_FUNCTION_POOL_LIFETIME_SECONDS", 600))
        self.MAX_BODY_BYTES = _env_int("MOSPAY_MAX_BODY_BYTES", 64 * 1024)
        # A provider statement uploaded for reconciliation (POST …/reconciliation/runs, the portal's upload).
        self.MAX_STATEMENT_BYTES = _env_int("MOSPAY_MAX_STATEMENT_BYTES", 64 * 1024 * 1024)
        self.MAX_UPSTREAM_BODY_BYTES = _env_int("MOSPAY_MAX_UPSTREAM_BODY_BYTES", 1024 * 1024)
        self.DEFAULT_TIMEOUT_MS = _env_int("MOSPAY_DEFAULT_TIMEOUT_MS", 10000)
        self.MAX_TIMEOUT_MS = _env_int("MOSPAY_MAX_TIMEOUT_MS", 60000)
        self.BCRYPT_ROUNDS = _env_int("MOSPAY_BCRYPT_ROUNDS", 12)
        self.CIRCUIT_THRESHOLD = _env_int("MOSPAY_CIRCUIT_THRESHOLD", 5)
        self.CIRCUIT_COOLDOWN_SECONDS = float(_env("MOSPAY_CIRCUIT_COOLDOWN_SECONDS", 10))
        # Abuse limits ("N per second|minute|hour"); shared through Redis when REDIS_URL is set.
        self.REDIS_URL = _env("REDIS_URL")
        self.CLIENT_RATE_LIMIT = _env("MOSPAY_CLIENT_RATE_LIMIT", "1000/second")
        self.AUTH_FAILURE_LIMIT = _env("MOSPAY_AUTH_FAILURE_LIMIT", "10/5minutes")
        self.PORTAL_FAILURE_LIMIT = _env("MOSPAY_PORTAL_FAILURE_LIMIT", "5/15minutes")
        # Reverse proxies / load balancers in front of the switch whose X-Forwarded-For and X-Forwarded-Proto
        # are trusted (Werkzeug ProxyFix): 0 = none, the socket's peer is the client (lockout keys on it).
        self.TRUSTED_PROXIES = _env_int("MOSPAY_TRUSTED_PROXIES", 0)
        self.CREDENTIAL_CACHE_SECONDS = _env_int("MOSPAY_CREDENTIAL_CACHE_SECONDS", 300)
        self.REGISTRY_LISTEN = _env_bool("MOSPAY_REGISTRY_LISTEN", True)
        self.REGISTRY_RELOAD_SECONDS = _env_int("MOSPAY_REGISTRY_RELOAD_SECONDS", 30)
        self.DEMO = _env_bool("MOSPAY_DEMO", True)
        self.ADMIN_PASSWORD = _env("MOSPAY_ADMIN_PASSWORD", "admin123")
        self.DEMO_CLIENT_PASSWORD = _env("MOSPAY_DEMO_CLIENT_PASSWORD", "akaliza-demo-secret")
        self.SIMULATOR_PORT = _env_int("MOSPAY_SIMULATOR_PORT", 5050)
        self.WORKERS = _env_int("WEB_CONCURRENCY", 2)
        self.THREADS = _env_int("MOSPAY_THREADS", 8)
        # A request must be sent in full within this time (headers, then body); until then it holds no thread.
        self.BODY_TIMEOUT_SECONDS = float(_env("MOSPAY_BODY_TIMEOUT_SECONDS", 10))
        self.LOG_LEVEL = _env("LOG_LEVEL", "INFO")
        self.LOG_JSON = _env_bool("MOSPAY_LOG_JSON", True)
        # Where providers reach the switch: routes with a CALLBACK function give them
        # {PUBLIC_URL}/api/v1/callbacks/<app_id>/<microservice>/<route> (context.route.callback_url).
        self.PUBLIC_URL = (_env("MOSPAY_PUBLIC_URL") or "").rstrip("/") or None
        # Key of the sealed secrets (callback signing secrets); defaults to SECRET_KEY.
        self.SEAL_KEY = _env("MOSPAY_SEAL_KEY")
        # Keys newest first, comma-separated: the first seals, each opens (rotation: README "Provider credentials").
        self.SEAL_KEYS = [key.strip() for key in (_env("MOSPAY_SEAL_KEYS") or "").split(",") if key.strip()]
        # Client callback URLs into loopback, link-local or private ranges (SSRF): allowed outside production only.
        self.ALLOW_PRIVATE_CALLBACKS = _env_bool("MOSPAY_ALLOW_PRIVATE_CALLBACKS", self.ENV != "production")
        self.CLIENT_CALLBACK_TIMEOUT_MS = _env_int("MOSPAY_CLIENT_CALLBACK_TIMEOUT_MS", 5000)
        self.WORKER_POLL_SECONDS = float(_env("MOSPAY_WORKER_POLL_SECONDS", 1))
        # `python app.py` also runs the job worker and stale-payment recovery (off where `flask worker` runs apart).
        self.WORKER = _env_bool("MOSPAY_WORKER", True)
        # Settling a payment by hand: 2 = four eyes (a second admin approves), 1 = the proposal settles at once.
        self.RESOLUTION_APPROVALS = _env_int("MOSPAY_RESOLUTION_APPROVALS", 2)
        # A PENDING payment older than this may be resolved by hand (an UNKNOWN one at any time).
        self.PENDING_OVERDUE_MINUTES = _env_int("MOSPAY_PENDING_OVERDUE_MINUTES", 60)
        # TOTP two-factor sign-in for admins and DBAs (portal and admin API): on by default in production only.
        self.REQUIRE_TOTP = _env_bool("MOSPAY_REQUIRE_TOTP", self.ENV == "production")
        # How long an admin's invitation link for a client user stays valid.
        self.CLIENT_INVITATION_HOURS = _env_int("MOSPAY_CLIENT_INVITATION_HOURS", 72)
        # Alerts: how often the worker evaluates the rules; e-mail goes out through this SMTP server (none: no e-mail).
        self.ALERT_EVERY_SECONDS = float(_env("MOSPAY_ALERT_EVERY_SECONDS", 60))
        self.SMTP_HOST = _env("MOSPAY_SMTP_HOST")
        self.SMTP_PORT = _env_int("MOSPAY_SMTP_PORT", 25)
        self.SMTP_USERNAME = _env("MOSPAY_SMTP_USERNAME")
        self.SMTP_PASSWORD = _env("MOSPAY_SMTP_PASSWORD")
        self.SMTP_STARTTLS = _env_bool("MOSPAY_SMTP_STARTTLS", False)
        self.SMTP_FROM = _env("MOSPAY_SMTP_FROM", "mospay@localhost")
        self.SMTP_TIMEOUT_SECONDS = float(_env("MOSPAY_SMTP_TIMEOUT_SECONDS", 10))
        # Time partitions (migration 0071; docs/deployment.md "Partitions and retention"): the worker keeps
        # partitions of PARTITION_DAYS days made PARTITION_AHEAD_DAYS ahead, checking every PARTITION_EVERY_SECONDS.
        self.PARTITION_DAYS = _env_int("MOSPAY_PARTITION_DAYS", 7)
        self.PARTITION_AHEAD_DAYS = _env_int("MOSPAY_PARTITION_AHEAD_DAYS", 14)
        self.PARTITION_EVERY_SECONDS = float(_env("MOSPAY_PARTITION_EVERY_SECONDS", 3600))
        # Retention in days per table (0: keep forever): older partitions are dropped whole, after being written
        # to ARCHIVE_DIR as gzip CSV when it is set. The transactions' retention is also the replay window.
        self.RETAIN_TRANSACTIONS_DAYS = _env_int("MOSPAY_RETAIN_TRANSACTIONS_DAYS", 0)
        self.RETAIN_API_LOGS_DAYS = _env_int("MOSPAY_RETAIN_API_LOGS_DAYS", 0)
        self.RETAIN_CALLBACKS_DAYS = _env_int("MOSPAY_RETAIN_CALLBACKS_DAYS", 0)
        self.RETAIN_AUDIT_DAYS = _env_int("MOSPAY_RETAIN_AUDIT_DAYS", 0)
        self.ARCHIVE_DIR = _env("MOSPAY_ARCHIVE_DIR")
        for key, value in overrides.items():
            setattr(self, key, value)
        if not self.is_production and not (self.SECRET_KEY and self.JWT_SECRET_KEY):
            generated = development_secrets(self.DATA_DIR)
            self.SECRET_KEY = self.SECRET_KEY or generated["SECRET_KEY"]
            self.JWT_SECRET_KEY = self.JWT_SECRET_KEY or generated["JWT_SECRET_KEY"]

    @property
    def is_production(self):
        return self.ENV == "production"

    def check(self):
        """Refuse settings that are unsafe; raises ``ValueError`` naming the setting."""
        for name in GENERATED_SECRETS:
            value = getattr(self, name)
            if value in (DEFAULT_SECRET, DEFAULT_JWT_SECRET):
                raise ValueError(f"{name} is a published development key: unset it (development) or set a random one")
            if self.is_production and (not value or len(value) < 32):
                raise ValueError(f"{name} must be set to a random value of 32+ characters in production")
        if not 0 <= self.TRUSTED_PROXIES <= 10:
            raise ValueError("MOSPAY_TRUSTED_PROXIES must be the number of proxies in front of the switch (0–10)")
        if not 100 <= self.DEFAULT_TIMEOUT_MS <= self.MAX_TIMEOUT_MS:
            raise ValueError("MOSPAY_DEFAULT_TIMEOUT_MS must be between 100 and MOSPAY_MAX_TIMEOUT_MS")
        if not 1 <= self.PARTITION_DAYS <= 366 or not 1 <= self.PARTITION_AHEAD_DAYS <= 366:
            raise ValueError("MOSPAY_PARTITION_DAYS and MOSPAY_PARTITION_AHEAD_DAYS must be 1 to 366 (days)")
        for name in ("TRANSACTIONS", "API_LOGS", "CALLBACKS", "AUDIT"):
            if getattr(self, f"RETAIN_{name}_DAYS") < 0:
                raise ValueError(f"MOSPAY_RETAIN_{name}_DAYS must be 0 (keep forever) or a number of days")

    @property
    def seal_keys(self):
        """The sealing keys, newest first: ``MOSPAY_SEAL_KEYS``, else ``MOSPAY_SEAL_KEY``, else ``SECRET_KEY``."""
        return self.SEAL_KEYS or [self.SEAL_KEY or self.SECRET_KEY]

    def as_flask(self):
        """The subset Flask itself reads."""
        return {"SECRET_KEY": self.SECRET_KEY, "MAX_CONTENT_LENGTH": self.MAX_BODY_BYTES,
                # The portal's cookies travel over HTTPS only in production (development runs on plain http).
                "SESSION_COOKIE_SECURE": self.is_production, "REMEMBER_COOKIE_SECURE": self.is_production}
