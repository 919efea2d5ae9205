"""Server-side sessions: the `sessions` table decides who is signed in.

`start_session(user)` is the only way in (password sign-in and, later, Google and Apple call it).
The browser's signed cookie carries a random token; the table keeps its hash. Flask-Login loads
the user through that row on every request, so ending or deleting the row signs the browser out
at its next request. A session ends after SESSION_IDLE_TIMEOUT without requests or
SESSION_LIFETIME after sign-in, whichever comes first.

How a session ends, and what its browser is told:
- Signing out (this browser) deletes the row: the person knows.
- Signed out from elsewhere (a password change, "Revoke", "Sign out all other browsers", the
  operator's `users set-password`) keeps the row as a tombstone: `ended_at` and `end_reason` are
  set. When that browser comes back, `load_user` finds the tombstone, signs it out, forgets the
  token and flashes why; Flask-Login's redirect (or HX-Redirect for htmx) takes it to the sign-in
  page, which shows the sentence once. The sessions page and `load_user` never take a tombstone
  for a signed-in browser. `flask sessions prune` deletes tombstones with the expired sessions:
  once a session would have expired anyway, there is nothing left to explain.
- A password change also rotates the session of the browser that made it: every row of the user
  ends, and that browser gets a new row and token, so a stolen copy of its cookie dies too.
"""

from datetime import timedelta
from functools import cache

from flask import current_app, flash, redirect, request, session
from flask_babel import gettext as _
from flask_login import login_url, login_user, logout_user
from sqlalchemy import update
from sqlalchemy.orm.attributes import set_committed_value

from xtablo import timezones
from xtablo.access import session_by_token
from xtablo.accounts import claim_invitations
from xtablo.database import has_free_connection, request_writes, write_connection
from xtablo.extensions import db, login_manager
from xtablo.models import Session, User
from xtablo.models._types import utcnow
from xtablo.models.session import EndReason
from xtablo.web import htmx

# last_seen_at is refreshed at most this often: the idle timeout is counted in days, and a write
# per page view would serialize SQLite writers for nothing.
TOUCH_EVERY = timedelta(minutes=5)
TIME_ZONE_COOKIE = "xtablo_tz"  # the browser's time zone, left by xtablo/static/js/app.js


def start_session(user: User) -> Session:
    """Sign `user` in on this browser with a new session row and a fresh cookie (no fixation).

    Invitations waiting for the user's email become memberships here, whichever way they
    signed in (sign-up, password, Google or Apple), once the email is verified: until then
    they wait for the verification (xtablo/accounts.py), which claims them itself.

    An account without a time zone takes the browser's, which the page's script left in the
    `xtablo_tz` cookie (xtablo/static/js/app.js), whichever way it signed in.
    """
    claim_invitations(user)
    if user.time_zone is None and timezones.is_zone(browser_zone := request.cookies.get(TIME_ZONE_COOKIE)):
        user.time_zone = browser_zone
    session.clear()
    row, token = Session.open(
        user,
        user_agent=request.user_agent.string or "",
        ip_address=request.remote_addr or "",
    )
    user.current_session, user.current_session_token = row, token
    session.permanent = True
    login_user(user)
    return row


def end_session() -> None:
    """Sign this browser out: its row is deleted, its cookie emptied."""
    from flask_login import current_user

    if current_user.is_authenticated and current_user.current_session is not None:
        db.session.delete(current_user.current_session)
    logout_user()
    session.clear()


@login_manager.user_loader
def load_user(token: str) -> User | None:
    row = session_by_token(token)
    if row is None:
        return None
    if row.is_ended:
        _tell_why_signed_out(row)
        return None
    now = utcnow()
    config = current_app.config
    if row.is_expired(idle_timeout=config["SESSION_IDLE_TIMEOUT"], lifetime=config["SESSION_LIFETIME"], now=now):
        return None
    if now - row.last_seen_at > TOUCH_EVERY:
        _touch(row, now)
    user = row.user
    user.current_session, user.current_session_token = row, token
    return user


def _tell_why_signed_out(row: Session) -> None:
    """Flash why this browser was signed out, once: the cookie forgets the dead token, so the
    next request finds no session at all. Only Flask-Login's keys go: the CSRF token stays, in
    case this request already rendered it."""
    for key in ("_user_id", "_fresh", "_id"):
        session.pop(key, None)
    if row.end_reason == EndReason.PASSWORD_CHANGED:
        flash(_("Your password was changed, so this browser was signed out. Sign in with the new password."), "info")
    else:
        flash(_("This browser was signed out from another one."), "info")


@login_manager.unauthorized_handler
def sign_in_first():
    """To the sign-in page, which comes back here after. An htmx request leaves the page it
    was made from: the whole page goes to sign-in and comes back to that page."""
    if htmx.is_htmx():
        return "", 401, {"HX-Redirect": login_url(login_manager.login_view, next_url=htmx.current_url() or request.url)}
    return redirect(login_url(login_manager.login_view, next_url=request.url))


def _touch(row: Session, now) -> None:
    if not request_writes():
        # A page view reads in a deferred transaction; the refresh gets its own short one, if a
        # connection is free at once (else the next request refreshes it: the session's idle
        # timeout is counted in days, the refresh done at most every few minutes).
        if not has_free_connection(db.engine):
            return
        with write_connection(db.engine) as conn:
            conn.execute(update(Session).where(Session.id == row.id).values(last_seen_at=now))
        set_committed_value(row, "last_seen_at", now)
    else:
        # A form post already holds the write lock: the refresh rides along with its commit (or
        # is dropped with it when the post ends its transaction before slow work: no matter).
        row.last_seen_at = now


# Browser and system names people know, for ua-parser's families that differ from them.
BROWSER_NAMES = {
    "Chrome Mobile": "Chrome", "Chrome Mobile iOS": "Chrome", "Chrome Mobile WebView": "Chrome",
    "Mobile Safari": "Safari", "Mobile Safari UI/WKWebView": "Safari",
    "Firefox Mobile": "Firefox", "Firefox iOS": "Firefox",
    "Edge Mobile": "Edge", "Opera Mobile": "Opera",
}
SYSTEM_NAMES = {"Mac OS X": "macOS", "Chrome OS": "ChromeOS"}


@cache
def _user_agent_parser():
    """ua-parser with its rules compiled one by one as they are first tried (a full compile takes
    over a second), results cached by user-agent string. Built on the first sessions page a
    worker serves, about 0.1 s, then about 1 ms a new browser: only that page parses."""
    from ua_parser import BasicResolver, Cache, CachingResolver, Parser, load_lazy_builtins

    return Parser(CachingResolver(BasicResolver(load_lazy_builtins()), Cache(256)))


def browser_name(user_agent: str) -> str:
    """A browser as people name it: "Firefox on Linux", "Safari on iPhone", "Unknown browser"."""
    from ua_parser import Domain

    if not user_agent:
        return _("Unknown browser")
    parsed = _user_agent_parser()(user_agent, Domain.USER_AGENT | Domain.OS)
    if parsed.user_agent is None:
        return _("Unknown browser")
    browser = BROWSER_NAMES.get(parsed.user_agent.family, parsed.user_agent.family)
    system = parsed.os.family if parsed.os else None
    if system == "iOS":
        # "iOS" says less than the device it runs on; only iOS pays for the device rules.
        device = _user_agent_parser()(user_agent, Domain.DEVICE).device
        system = device.family if device and device.family in ("iPhone", "iPad", "iPod") else system
    if not system:
        return browser
    return _("%(browser)s on %(system)s", browser=browser, system=SYSTEM_NAMES.get(system, system))
