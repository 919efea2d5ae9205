import hashlib
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_login import UserMixin
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import String, func, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from xtablo import offload
from xtablo.extensions import db
from xtablo.models._types import UTCDateTime, utcnow

# argon2id with argon2-cffi's defaults (RFC 9106 low-memory profile, above OWASP's minimum).
# Hashing and verifying go through xtablo/offload.py: in a gevent worker they run in a thread,
# PASSWORD_HASH_CONCURRENCY at a time, so that sign-ins never freeze the worker's other requests.
password_hasher = PasswordHasher()

# Checked against when the email is unknown, so a sign-in costs the same time either way.
# (Computed once at import, before the worker serves anything.)
_DUMMY_HASH = password_hasher.hash("xtablo-timing-equaliser")

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024


def normalize_email(email: str) -> str:
    return email.strip().lower()


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased: emails are case-insensitive and unique.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    # Nullable for accounts that will only ever sign in with Google or Apple.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # The interface's language ("en", "fr"), chosen on the account page; None: the browser's.
    locale: Mapped[str | None] = mapped_column(String(8))
    # When the email was proven to reach this person: the link mailed to it, a password reset
    # through it, or Google/Apple vouching for it. None: unverified (invitations wait for it).
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    identities = relationship("UserIdentity", back_populates="user", order_by="UserIdentity.provider", passive_deletes=True)

    # Set by xtablo/sessions.py: this request's server-side session and, right after sign-in,
    # the raw token Flask-Login stores in the cookie.
    current_session = None
    current_session_token = None

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def has_password(self) -> bool:
        return self.password_hash is not None

    @classmethod
    def by_email(cls, email: str) -> "User | None":
        return db.session.scalar(select(cls).where(cls.email == normalize_email(email)))

    @classmethod
    def email_taken(cls, email: str) -> bool:
        return bool(db.session.scalar(select(func.count()).select_from(cls).where(cls.email == normalize_email(email))))

    @classmethod
    def create(cls, *, name: str, email: str, password: str | None = None, password_hash: str | None = None) -> "User":
        """A new account; give `password_hash` (see `hash_password`) when the hash was computed
        outside the transaction, as views do."""
        user = cls(name=name.strip(), email=normalize_email(email), password_hash=password_hash)
        if password is not None:
            user.set_password(password)
        db.session.add(user)
        db.session.flush()
        return user

    def set_password(self, password: str) -> None:
        self.password_hash = hash_password(password)

    def check_password(self, password: str) -> bool:
        if not verify_password(self.password_hash, password):
            return False
        self.upgrade_password_hash(password)
        return True

    def upgrade_password_hash(self, password: str) -> None:
        """Re-hash a verified password if argon2's parameters have been raised since."""
        if self.password_hash and password_hasher.check_needs_rehash(self.password_hash):
            self.set_password(password)

    def reset_token(self) -> str:
        """A signed link token to choose a new password: it names the account and the password
        it replaces, so it works once (a new password changes the hash) and for
        PASSWORD_RESET_HOURS (checked by `by_reset_token`)."""
        return _reset_serializer().dumps({"user": self.id, "password": _fingerprint(self.password_hash)})

    @classmethod
    def by_reset_token(cls, token: str, *, lock: bool = False) -> "User | None":
        """The account a reset token was made for, if it is genuine, recent and unused; `lock`
        reads the account's row for update (two posts of one link: the second finds it used)."""
        max_age = current_app.config["PASSWORD_RESET_HOURS"] * 3600
        try:
            data = _reset_serializer().loads(token, max_age=max_age)
        except (BadSignature, ValueError):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("user"), int):
            return None
        user = db.session.get(cls, data["user"], with_for_update=lock, populate_existing=lock)
        if user is None or data.get("password") != _fingerprint(user.password_hash):
            return None
        return user

    def get_id(self) -> str:
        # Flask-Login keeps this in the signed cookie: it is the server-side session's token, so
        # the sessions table, not the cookie, decides who is signed in (see xtablo/sessions.py).
        return self.current_session_token


def _off_the_loop(func, *args):
    return offload.run(func, *args, limit=current_app.config["PASSWORD_HASH_CONCURRENCY"])


def _reset_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="xtablo-password-reset")


def _fingerprint(password_hash: str | None) -> str:
    return hashlib.sha256((password_hash or "").encode()).hexdigest()[:16]


def hash_password(password: str) -> str:
    """A new argon2 hash of `password`. Slow on purpose: call it before opening a write
    transaction, not inside one."""
    return _off_the_loop(password_hasher.hash, password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Check `password` against `password_hash`. Without a hash (unknown email, social-only
    account) a dummy hash is checked, so the answer takes as long either way."""
    try:
        return _off_the_loop(password_hasher.verify, password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False
