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
    # The IANA time zone every time is entered and shown in ("Europe/Paris"), chosen on the
    # account page or guessed from the browser at sign-up; None: UTC.
    time_zone: Mapped[str | None] = mapped_column(String(64))
    # The secret behind this person's calendar feed URL (xtablo/calendar.py); None: no feed.
    # Regenerating it makes the old URL answer 404.
    feed_salt: Mapped[str | None] = mapped_column(String(32))
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
        """A signed link token to choose a new password: it names the account, the password it
        replaces and the email it was sent to, so it works once (a new password changes the
        hash), dies with a change of email (the old address no longer speaks for the account),
        and lasts PASSWORD_RESET_HOURS (checked by `by_reset_token`)."""
        return _serializer("xtablo-password-reset").dumps(
            {"user": self.id, "password": _fingerprint(self.password_hash), "email": self.email}
        )

    @classmethod
    def by_reset_token(cls, token: str, *, lock: bool = False) -> "User | None":
        """The account a reset token was made for, if it is genuine, recent and unused; `lock`
        reads the account's row for update (two posts of one link: the second finds it used)."""
        data = _load(token, "xtablo-password-reset", current_app.config["PASSWORD_RESET_HOURS"])
        user = _user_of(data, lock=lock)
        if user is None or data.get("password") != _fingerprint(user.password_hash) or data.get("email") != user.email:
            return None
        return user

    def verification_token(self) -> str:
        """A signed link token that proves the account's email reaches its owner: it names the
        account and the email, so changing the email voids it; it lasts EMAIL_VERIFICATION_HOURS
        (checked by `by_verification_token`). Once used it only finds the email verified."""
        return _serializer("xtablo-email-verification").dumps({"user": self.id, "email": self.email})

    @classmethod
    def by_verification_token(cls, token: str, *, lock: bool = False) -> "User | None":
        """The account a verification token was made for, if it is genuine, recent and still
        names the account's email."""
        data = _load(token, "xtablo-email-verification", current_app.config["EMAIL_VERIFICATION_HOURS"])
        user = _user_of(data, lock=lock)
        if user is None or data.get("email") != user.email:
            return None
        return user

    def email_change_token(self, new_email: str) -> str:
        """A signed link token, mailed to `new_email`, that makes it the account's email: it names
        the account, its current email and the new one, so it works once (the change makes the
        current email another) and lasts EMAIL_VERIFICATION_HOURS."""
        return _serializer("xtablo-email-change").dumps({"user": self.id, "email": self.email, "new": normalize_email(new_email)})

    @classmethod
    def by_email_change_token(cls, token: str, *, lock: bool = False) -> "tuple[User, str] | None":
        """(the account, its new email) for a genuine, recent, unused email-change token."""
        data = _load(token, "xtablo-email-change", current_app.config["EMAIL_VERIFICATION_HOURS"])
        user = _user_of(data, lock=lock)
        if user is None or data.get("email") != user.email or not isinstance(data.get("new"), str):
            return None
        return user, data["new"]

    def change_email(self, new_email: str) -> None:
        """Make `new_email` (proven by the link mailed to it) the account's email, verified now.
        The flush lets the unique constraint decide between two accounts racing for it."""
        self.email = normalize_email(new_email)
        self.email_verified_at = utcnow()
        db.session.flush()

    def get_id(self) -> str:
        # Flask-Login keeps this in the signed cookie: it is the server-side session's token, so
        # the sessions table, not the cookie, decides who is signed in (see xtablo/sessions.py).
        return self.current_session_token


def _off_the_loop(func, *args):
    return offload.run(func, *args, limit=current_app.config["PASSWORD_HASH_CONCURRENCY"])


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=salt)


def _load(token: str, salt: str, hours: float) -> dict | None:
    """The data of a link token signed with `salt` less than `hours` ago, else None. Tokens
    longer than any this app makes are refused unread."""
    if len(token) > 500:
        return None
    try:
        data = _serializer(salt).loads(token, max_age=hours * 3600)
    except (BadSignature, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _user_of(data: dict | None, *, lock: bool) -> "User | None":
    """The account a token's data names; `lock` reads its row for update (two posts of one link:
    the second sees what the first changed)."""
    if data is None or not isinstance(data.get("user"), int) or isinstance(data.get("user"), bool):
        return None
    return db.session.get(User, data["user"], with_for_update=lock, populate_existing=lock)


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
