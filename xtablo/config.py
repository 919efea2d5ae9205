"""Configuration, read from the environment only (see the README's table)."""

import os
import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from xtablo.offload import default_concurrency

INSTANCE_PATH = Path(os.environ.get("XTABLO_INSTANCE_PATH", Path(__file__).resolve().parent.parent / "instance"))


class ConfigError(RuntimeError):
    """The configuration cannot run; the message is one line meant for an operator."""


def default_database_url() -> str:
    return f"sqlite:///{INSTANCE_PATH / 'xtablo.sqlite'}"


def persistent_secret_key() -> str:
    """Read the key kept under instance/, creating it on first use so sessions survive restarts."""
    path = INSTANCE_PATH / "secret_key"
    INSTANCE_PATH.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    key = secrets.token_hex(32)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key


def engine_options(url: str, connect_timeout: float, statement_timeout: float) -> dict:
    if url.startswith("sqlite"):
        # A file has no server that could drop the connection: nothing to ping before each use
        # (the ping was a query of its own on every request).
        return {"connect_args": {"timeout": statement_timeout}}  # sqlite3's busy timeout
    options: dict = {"pool_pre_ping": True}
    if url.startswith("postgresql"):
        options["connect_args"] = {
            "connect_timeout": max(1, round(connect_timeout)),
            "options": f"-c statement_timeout={round(statement_timeout * 1000)}",
        }
    return options


def public_url(value: str | None) -> str | None:
    """PUBLIC_URL without its trailing slash: a scheme and a host (and port), nothing more."""
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError(f"xtablo: PUBLIC_URL must be like https://xtablo.example.com (a scheme and a host, no path), not {value!r}.")
    return f"{parts.scheme}://{parts.netloc}"


def positive_int(env, name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(f"xtablo: {name} must be a whole number of at least 1, not {raw!r}.")
    return value


def pem_text(env, name: str) -> str | None:
    """A PEM key given as its text or as the path of a file that holds it."""
    raw = (env.get(name) or "").strip()
    if not raw or raw.startswith("-----BEGIN"):
        return raw.replace("\\n", "\n") or None
    try:
        with open(raw, encoding="ascii") as file:
            return file.read()
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"xtablo: {name} is neither a PEM key nor a readable file ({error}).") from error


class Config:
    """Settings for a running xtablo, read from the environment when instantiated."""

    SESSION_COOKIE_NAME = "xtablo_session"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    # Secure is added per response when the request came over HTTPS (web/security.py): a
    # plain-HTTP LAN install still works and an HTTPS one never sends the cookie in clear.
    SESSION_COOKIE_SECURE = False
    # The sessions table holds the expiry (idle and absolute); re-signing the cookie on every
    # response would add nothing but work.
    SESSION_REFRESH_EACH_REQUEST = False
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session that holds it
    WTF_CSRF_SSL_STRICT = False  # SameSite=Lax cookies and the token already cover it
    BABEL_DEFAULT_LOCALE = "en"
    MAX_CONTENT_LENGTH = 1024 * 1024
    TESTING = False

    def __init__(self, env: dict[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        self.ENV = env.get("XTABLO_ENV", "local")
        self.SQLALCHEMY_DATABASE_URI = env.get("DATABASE_URL") or default_database_url()
        # How long a request may wait for the database before it answers "try again" (503):
        # to connect (PostgreSQL), and for one statement to run or to get its lock (PostgreSQL's
        # statement_timeout, SQLite's busy timeout).
        self.DATABASE_CONNECT_TIMEOUT = float(env.get("DATABASE_CONNECT_TIMEOUT", 5))
        self.DATABASE_STATEMENT_TIMEOUT = float(env.get("DATABASE_STATEMENT_TIMEOUT", 10))
        self.SQLALCHEMY_ENGINE_OPTIONS = engine_options(
            self.SQLALCHEMY_DATABASE_URI, self.DATABASE_CONNECT_TIMEOUT, self.DATABASE_STATEMENT_TIMEOUT
        )
        self.REDIS_URL = env.get("REDIS_URL") or None
        # Seconds a Redis call may take before it counts as down (connect and each command).
        self.REDIS_TIMEOUT = float(env.get("REDIS_TIMEOUT", 0.5))
        # Password attempts are counted in a storage every worker shares: Redis when configured,
        # else the application's own database (xtablo/ratelimit.py), which is also the fallback
        # when Redis does not answer (xtablo/blueprints/auth/throttle.py).
        self.RATELIMIT_STORAGE_URI = self.REDIS_URL or "xtablo-sql://"
        if self.REDIS_URL:
            self.RATELIMIT_STORAGE_OPTIONS = {
                "wrap_exceptions": True,
                "socket_timeout": self.REDIS_TIMEOUT,
                "socket_connect_timeout": self.REDIS_TIMEOUT,
            }
            if env.get("RATELIMIT_KEY_PREFIX"):
                self.RATELIMIT_STORAGE_OPTIONS["key_prefix"] = env["RATELIMIT_KEY_PREFIX"]
        # The chat's real time (xtablo/realtime/brokers.py): how the workers tell each other of a
        # new message. "database" (the change log, SQLite's default), "postgresql" (LISTEN/NOTIFY,
        # PostgreSQL's default) or "redis" (pub/sub, the default when REDIS_URL is set); the
        # channel is a name shared by the app's workers, different for two apps on one server.
        self.REALTIME_BROKER = env.get("REALTIME_BROKER", "").strip().lower()
        self.REALTIME_CHANNEL = env.get("REALTIME_CHANNEL") or "xtablo_chat"
        # Seconds between two reads of the change log that no broker asked for (empty: 1 s, or
        # 0.25 s with the database broker on PostgreSQL): how late a message can be when a ring
        # was lost or the broker is down.
        # Streams one session may hold on a worker (the next gets a 429; xtablo/realtime/hub.py).
        self.REALTIME_STREAMS_PER_SESSION = positive_int(env, "REALTIME_STREAMS_PER_SESSION", 50)
        self.REALTIME_POLL_INTERVAL = float(env["REALTIME_POLL_INTERVAL"]) if env.get("REALTIME_POLL_INTERVAL") else None
        self.SIGN_IN_LIMIT_PER_ACCOUNT_AND_IP = env.get("SIGN_IN_LIMIT_PER_ACCOUNT_AND_IP", "5 per 15 minutes")
        self.SIGN_IN_LIMIT_PER_IP = env.get("SIGN_IN_LIMIT_PER_IP", "30 per 15 minutes")
        self.SIGN_IN_LIMIT_PER_ACCOUNT = env.get("SIGN_IN_LIMIT_PER_ACCOUNT", "30 per hour")
        self.SIGN_IN_LIMIT_PER_DEVICE = env.get("SIGN_IN_LIMIT_PER_DEVICE", "10 per 15 minutes")
        self.PASSWORD_CHANGE_LIMIT = env.get("PASSWORD_CHANGE_LIMIT", "5 per 15 minutes")
        self.SIGN_UP_LIMIT_PER_IP = env.get("SIGN_UP_LIMIT_PER_IP", "20 per hour")
        self.PASSWORD_RESET_LIMIT_PER_IP = env.get("PASSWORD_RESET_LIMIT_PER_IP", "10 per hour")
        # Mail (xtablo/mail.py): over SMTP when SMTP_URL is set, else written to the log.
        self.SMTP_URL = env.get("SMTP_URL") or None
        self.MAIL_FROM = env.get("MAIL_FROM", "xtablo <no-reply@localhost>")
        self.MAIL_TIMEOUT = float(env.get("MAIL_TIMEOUT", 10))
        self.PASSWORD_RESET_HOURS = float(env.get("PASSWORD_RESET_HOURS", 1))
        self.EMAIL_VERIFICATION_HOURS = float(env.get("EMAIL_VERIFICATION_HOURS", 48))
        # Mails one signed-in account may ask for, per kind ("send the link again", an email
        # change): each goes to an address the asker typed.
        self.EMAIL_LINK_LIMIT = env.get("EMAIL_LINK_LIMIT", "5 per hour")
        # Social sign-in (xtablo/identity/): a provider without its settings shows no button.
        self.GOOGLE_CLIENT_ID = env.get("GOOGLE_CLIENT_ID") or None
        self.GOOGLE_CLIENT_SECRET = env.get("GOOGLE_CLIENT_SECRET") or None
        self.GOOGLE_DISCOVERY_URL = env.get("GOOGLE_DISCOVERY_URL") or "https://accounts.google.com/.well-known/openid-configuration"
        self.APPLE_CLIENT_ID = env.get("APPLE_CLIENT_ID") or None
        self.APPLE_TEAM_ID = env.get("APPLE_TEAM_ID") or None
        self.APPLE_KEY_ID = env.get("APPLE_KEY_ID") or None
        self.APPLE_PRIVATE_KEY = pem_text(env, "APPLE_PRIVATE_KEY")
        self.APPLE_DISCOVERY_URL = env.get("APPLE_DISCOVERY_URL") or "https://appleid.apple.com/.well-known/openid-configuration"
        # Seconds a call to Google or Apple (discovery, keys, token) may take before the sign-in
        # fails with a message.
        self.OAUTH_TIMEOUT = float(env.get("OAUTH_TIMEOUT", 10))
        self.SESSION_IDLE_TIMEOUT = timedelta(hours=float(env.get("SESSION_IDLE_HOURS", 24 * 14)))
        self.SESSION_LIFETIME = timedelta(hours=float(env.get("SESSION_LIFETIME_HOURS", 24 * 30)))
        self.PERMANENT_SESSION_LIFETIME = self.SESSION_LIFETIME
        # Proxies trusted for X-Forwarded-For and X-Forwarded-Proto; X-Forwarded-Host is never
        # trusted: the links the app shows use PUBLIC_URL, else the request's Host (web/security.py).
        self.PROXY_FIX_HOPS = int(env.get("PROXY_FIX_HOPS", 0))
        self.PUBLIC_URL = public_url(env.get("PUBLIC_URL"))
        # Password hashes (argon2: CPU and 64 MiB each) computed at once per worker process, off
        # its event loop (xtablo/offload.py); more sign-ins than that wait their turn.
        self.PASSWORD_HASH_CONCURRENCY = positive_int(env, "PASSWORD_HASH_CONCURRENCY", default_concurrency())
        self.SECRET_KEY = env.get("SECRET_KEY") or None
        if self.ENV == "production":
            if not self.SECRET_KEY or len(self.SECRET_KEY) < 32:
                raise ConfigError(
                    "xtablo: production mode needs SECRET_KEY set to at least 32 random characters "
                    "(python -c 'import secrets; print(secrets.token_hex(32))')."
                )
        elif not self.SECRET_KEY:
            self.SECRET_KEY = persistent_secret_key()
