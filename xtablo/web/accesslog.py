"""gunicorn's access log without invitation-link tokens (nor those of the mailed links: password
reset, email verification, email change), nor the authorization codes Google and Apple send to
the sign-in callback (`/auth/google/callback?code=...`: Apple posts its own, out of the log).

The database keeps only a hash of each invitation link's token; the access log must not keep the
token itself. It shows up in the request line (`GET /join/<token>`), in the sign-in redirect's
query (`/login?next=%2Fjoin%2F<token>`) and in the Referer of the requests a join page makes.
Every value the log format can use (request line, path, query, headers, environ) goes through
`redact`, so a custom `access_log_format` cannot bring the token back.

gunicorn.conf.py loads this file by its path, in the arbiter: it imports nothing from xtablo
(whose package would pull Flask, SQLAlchemy and ssl into the arbiter before gevent patches the
workers).
"""

import re
from urllib.parse import unquote

from gunicorn.glogging import Logger

REDACTED = "[redacted]"
# `/join/` plain or percent-encoded (`%2F`, and `%252F` when encoded twice, in any case), then the
# token: everything up to the next separator.
_SLASH = r"(?:/|%(?:25)*2[fF])"
# Invitation links (/join/<token>), password reset links (/password/reset/<token>), email
# verification links (/email/verify/<token>), email change links (/account/email/confirm/<token>)
# and calendar feeds (/calendar/<token>.ics).
JOIN_TOKEN = re.compile(rf"({_SLASH}(?:join|password{_SLASH}reset|email{_SLASH}verify|email{_SLASH}confirm|calendar){_SLASH})[^/?&#\s\"']+")
_WORDS = ("join", "reset", "verify", "confirm", "calendar")
# An OpenID Connect answer in a query: its code (and any token a provider would put there).
# (gunicorn's `q` atom is the query without its "?".)
OAUTH_CODE = re.compile(r"((?:^|[?&])(?:code|id_token|access_token)=)[^&#\s\"']+")


def redact(value):
    """`value` without invitation tokens or sign-in codes. A value that only names `join` once
    percent-decoded (`/jo%69n/<token>` reaches the same page) is logged decoded, its token
    redacted."""
    if not isinstance(value, str):
        return value
    if "=" in value:
        value = OAUTH_CODE.sub(r"\g<1>" + REDACTED, value)
    if "%" not in value and not any(word in value for word in _WORDS):
        return value
    if any(word in value for word in _WORDS):
        value = JOIN_TOKEN.sub(r"\g<1>" + REDACTED, value)
    decoded = value
    for _ in range(3):  # %69, %2569...
        decoded = unquote(decoded)
    if JOIN_TOKEN.search(decoded) and REDACTED not in decoded:
        return JOIN_TOKEN.sub(r"\g<1>" + REDACTED, decoded)
    return value


class RedactingLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        return {name: redact(value) for name, value in super().atoms(resp, req, environ, request_time).items()}
