"""Attempts at a password: counted before the password is checked, so guessing stays slow and
nobody can lock the owner out of their account.

Reserve first, then check. Each attempt is counted (`reserve`) before argon2 runs, by an atomic
increment in a storage every worker shares (Redis, or the database: xtablo/ratelimit.py), and is
refused when the count passes a limit. However many requests arrive at once, at most the limit
are ever checked. A right password gives its reservation back (`release`).

What is counted (see the README's security section):
- A browser the account signed in from before carries a device cookie naming that account
  (signed, so it cannot be forged). Its attempts at that account count against that device
  only: SIGN_IN_LIMIT_PER_DEVICE. Whatever happens elsewhere, the owner's own browser is never
  locked out.
- Any other attempt counts against the (account, client address) pair, strictly
  (SIGN_IN_LIMIT_PER_ACCOUNT_AND_IP), against the client address whatever the account
  (SIGN_IN_LIMIT_PER_IP), and against the account from every address
  (SIGN_IN_LIMIT_PER_ACCOUNT, looser: it only bounds guessing spread over many addresses).
- Refused attempts count no further: the counters are hit strictest first, and the first one
  past its limit ends the count.
- A password change counts against the signed-in browser (PASSWORD_CHANGE_LIMIT): a stolen
  session cannot guess the current password at full speed, nor lock the owner's form.
- Sign-ups count against the client address (SIGN_UP_LIMIT_PER_IP): each costs a hash and says
  whether an email already has an account.
- Mails a signed-in account asks for (the verification link again, an email change's link)
  count against the account, per kind (EMAIL_LINK_LIMIT).

Accounts are keyed by a hash of the email as typed (normalized), so unknown emails are counted
exactly like known ones, the answer reveals nothing, and no email is written to Redis.

When Redis does not answer within REDIS_TIMEOUT, the counters fall back to the database's (a
warning is logged, and Redis is left alone for REDIS_RETRY_AFTER seconds): sign-in keeps working,
still limited. These are network calls: each first ends the request's transaction
(xtablo/database.py), and none is made while changes wait to be committed.
"""

import hashlib
import logging
import time
from dataclasses import dataclass

from flask import Flask, Response, current_app, request
from itsdangerous import BadSignature, URLSafeSerializer
from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from xtablo.database import end_transaction
from xtablo.ratelimit import DatabaseStorage

log = logging.getLogger(__name__)

DEVICE_COOKIE = "xtablo_device"
DEVICE_COOKIE_DAYS = 365
REDIS_RETRY_AFTER = 30.0  # seconds without trying Redis after it failed


@dataclass(frozen=True)
class Counter:
    limit: RateLimitItem
    scope: str
    key: str


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def _client() -> str:
    return request.remote_addr or "unknown"


def _limit(name: str) -> RateLimitItem:
    return parse(current_app.config[name])


def sign_in_counters(email: str) -> list[Counter]:
    account = _hash(email)
    device = trusted_device(email)
    if device is not None:
        return [Counter(_limit("SIGN_IN_LIMIT_PER_DEVICE"), "sign-in:device", device)]
    return [
        Counter(_limit("SIGN_IN_LIMIT_PER_ACCOUNT_AND_IP"), "sign-in:account-ip", f"{account}/{_client()}"),
        Counter(_limit("SIGN_IN_LIMIT_PER_IP"), "sign-in:ip", _client()),
        Counter(_limit("SIGN_IN_LIMIT_PER_ACCOUNT"), "sign-in:account", account),
    ]


def password_change_counters(user_id: int, session_id: int) -> list[Counter]:
    """Per signed-in browser: a stolen session guessing the password locks only its own form,
    never the owner's."""
    return [Counter(_limit("PASSWORD_CHANGE_LIMIT"), "password-change", f"{user_id}/{session_id}")]


def password_reset_counters() -> list[Counter]:
    """Reset requests per client address: each may send a mail."""
    return [Counter(_limit("PASSWORD_RESET_LIMIT_PER_IP"), "password-reset:ip", _client())]


def email_link_counters(kind: str, user_id: int) -> list[Counter]:
    """Mails a signed-in account asks for, per kind ("verify": the verification link again,
    "email-change": a confirmation link to a new address): a stolen or scripted session cannot
    turn xtablo into a mailer."""
    return [Counter(_limit("EMAIL_LINK_LIMIT"), f"email-link:{kind}", str(user_id))]


def sign_up_counters() -> list[Counter]:
    """Sign-ups per client address: each costs an argon2 hash and tells whether an email has an
    account, so neither comes in bulk."""
    return [Counter(_limit("SIGN_UP_LIMIT_PER_IP"), "sign-up:ip", _client())]


# -- Reserving and releasing -------------------------------------------------------------------

def init_app(app: Flask) -> None:
    """The app's counters, from its own configuration (RATELIMIT_STORAGE_URI and _OPTIONS: Redis,
    or the database alone), and its memory of when Redis last failed: one per app, so per worker
    process. They are the `limits` library's, the one under Flask-Limiter, used directly: no
    route declares a limit, each attempt is reserved and released by hand."""
    uri = app.config["RATELIMIT_STORAGE_URI"]
    primary = None
    if not uri.startswith("xtablo-sql"):
        primary = FixedWindowRateLimiter(storage_from_string(uri, **app.config.get("RATELIMIT_STORAGE_OPTIONS", {})))
    app.extensions["xtablo_throttle"] = {
        "primary": primary, "fallback": FixedWindowRateLimiter(DatabaseStorage()), "redis_down_until": 0.0,
    }


def _limiters() -> list[FixedWindowRateLimiter]:
    """The shared counters to try, in order: Redis (unless it just failed), then the database."""
    state = _state()
    if state["primary"] is None or time.monotonic() < state["redis_down_until"]:
        return [state["fallback"]]
    return [state["primary"], state["fallback"]]


def _state() -> dict:
    return current_app.extensions["xtablo_throttle"]


def _on_storage(action):
    end_transaction()
    *preferred, last = _limiters()
    for counters in preferred:
        try:
            return action(counters)
        except StorageError as error:
            log.warning("Redis is not answering (%s): sign-in limits use the database for %d s",
                        error.storage_error, REDIS_RETRY_AFTER)
            _state()["redis_down_until"] = time.monotonic() + REDIS_RETRY_AFTER
    return action(last)


def reserve(counters: list[Counter]) -> bool:
    """Count one attempt on each counter in turn, strictest first; False at the first one past
    its limit. An attempt refused there counts nowhere further: a single address, refused by its
    own limit, cannot fill the account's looser one and lock other browsers out."""

    def hit(rate: FixedWindowRateLimiter) -> bool:
        return all(rate.hit(c.limit, c.scope, c.key) for c in counters)

    return _on_storage(hit)


def release(counters: list[Counter]) -> None:
    """Give back the attempt `reserve` counted: the password was right."""

    def give_back(rate: FixedWindowRateLimiter) -> None:
        for c in counters:
            key = c.limit.key_for(c.scope, c.key)
            if rate.storage.incr(key, c.limit.get_expiry(), amount=-1) < 0:
                rate.storage.clear(key)  # the window ended in between: start the next at zero

    _on_storage(give_back)


# -- The device cookie -------------------------------------------------------------------------


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="xtablo-device")


def trusted_device(email: str) -> str | None:
    """The id of this browser's device cookie if it names the account `email`, else None."""
    try:
        data = _serializer().loads(request.cookies.get(DEVICE_COOKIE, ""))
    except BadSignature:
        return None
    if not isinstance(data, dict) or data.get("account") != _hash(email) or not isinstance(data.get("device"), str):
        return None
    return data["device"]


def remember_device(response: Response, email: str) -> Response:
    """After a successful sign-in: mark this browser as one the account signs in from."""
    import secrets

    device = trusted_device(email) or secrets.token_urlsafe(16)
    response.set_cookie(
        DEVICE_COOKIE, _serializer().dumps({"account": _hash(email), "device": device}),
        max_age=DEVICE_COOKIE_DAYS * 24 * 3600, httponly=True, samesite="Lax", secure=request.is_secure,
    )
    return response
