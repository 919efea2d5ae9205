"""Failed sign-ins, limited per account and per IP address.

The counters live in Flask-Limiter's storage (Redis, or the database when Redis is not
configured), which every worker shares. The account key is the email as typed, normalized, so an
unknown email is throttled exactly like a known one and the answer reveals nothing.
"""

from flask import current_app, request
from limits import parse

from xtablo.extensions import db, limiter


def _limits(email: str):
    config = current_app.config
    return [
        (parse(config["SIGN_IN_LIMIT_PER_ACCOUNT"]), "sign-in:account", email),
        (parse(config["SIGN_IN_LIMIT_PER_IP"]), "sign-in:ip", request.remote_addr or "unknown"),
    ]


def is_blocked(email: str) -> bool:
    return any(not limiter.limiter.test(limit, scope, key) for limit, scope, key in _limits(email))


def record_failure(email: str) -> None:
    # Release the request's transaction first: on SQLite the counter is written in a transaction
    # of its own, which must not wait for a write lock this request is holding.
    db.session.rollback()
    for limit, scope, key in _limits(email):
        limiter.limiter.hit(limit, scope, key)


def forget_failures(email: str) -> None:
    """A successful sign-in clears the account's count (call after the request's commit)."""
    limit, scope, key = _limits(email)[0]
    limiter.limiter.clear(limit, scope, key)
