"""The sessions of an account as its owner sees them: which browsers are signed in, what happens
to them when the password changes or one signs another out, and what the signed-out one is told."""

from datetime import timedelta

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import func, select, text, update

from tests.conftest import PASSWORD
from xtablo.extensions import db as _db
from xtablo.models import Session, Task
from xtablo.models._types import utcnow

CHROME_ON_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
FIREFOX_ON_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
SAFARI_ON_IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                    "Version/18.1 Mobile/15E148 Safari/604.1")
GARBAGE = '<script>alert("ua")</script> & Co'

NEW_PASSWORD = "a new secret"
PASSWORD_CHANGED = "Your password was changed, so this browser was signed out. Sign in with the new password."
SIGNED_OUT_ELSEWHERE = "This browser was signed out from another one."


@pytest.fixture
def browser(app):
    """A new browser signed in as `user`, with its own cookie jar and user agent."""

    def open_browser(user, user_agent: str = CHROME_ON_WINDOWS):
        client = app.test_client()
        response = client.post("/login", data={"email": user.email, "password": PASSWORD}, headers={"User-Agent": user_agent})
        assert response.status_code == 303, response.text
        return client

    return open_browser


def change_password(client):
    return client.post("/account/password", data={"current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD})


def live_sessions(db) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Session).where(Session.ended_at.is_(None)))


def test_password_change_gives_this_browser_a_new_session(app, db, make_user, browser):
    user = make_user()
    mine, other = browser(user), browser(user, FIREFOX_ON_LINUX)
    old_cookie = mine.get_cookie("xtablo_session").value

    response = change_password(mine)

    assert response.status_code == 303
    page = mine.get(response.headers["Location"]).text
    assert "Password changed. Every other browser is signed out." in page
    assert mine.get("/tablos").status_code == 200  # this browser stays signed in...
    assert mine.get_cookie("xtablo_session").value != old_cookie
    thief = app.test_client()  # ...but a copy of its old cookie signs nobody in
    thief.set_cookie("xtablo_session", old_cookie)
    assert thief.get("/tablos").status_code == 302
    assert other.get("/tablos").status_code == 302
    assert live_sessions(db) == 1


def sign_out_by_password_change(app, user, browser, victim, runner):
    change_password(browser(user))


def sign_out_by_operator(app, user, browser, victim, runner):
    assert runner.invoke(args=["users", "set-password", user.email, "--password", NEW_PASSWORD]).exit_code == 0


def sign_out_by_revoke(app, user, browser, victim, runner):
    session_id = _db.session.scalar(select(Session.id).where(Session.user_agent == FIREFOX_ON_LINUX))
    assert browser(user).post(f"/account/sessions/{session_id}/revoke").status_code == 303


def sign_out_all_others(app, user, browser, victim, runner):
    assert browser(user).post("/account/sessions/revoke-others").status_code == 303


@pytest.mark.parametrize(
    "sign_out, sentence",
    [
        (sign_out_by_password_change, PASSWORD_CHANGED),
        (sign_out_by_operator, PASSWORD_CHANGED),
        (sign_out_by_revoke, SIGNED_OUT_ELSEWHERE),
        (sign_out_all_others, SIGNED_OUT_ELSEWHERE),
    ],
)
def test_a_browser_signed_out_elsewhere_is_told_why_once(app, db, make_user, make_tablo, browser, runner, sign_out, sentence):
    user = make_user()
    tablo = make_tablo(owner=user)
    victim = browser(user, FIREFOX_ON_LINUX)
    db.session.rollback()
    sign_out(app, user, browser, victim, runner)

    response = victim.get(f"/tablos/{tablo.id}")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/login?next=%2Ftablos%2F{tablo.id}"
    sign_in_page = victim.get(response.headers["Location"]).text
    assert sentence in sign_in_page
    assert sentence not in victim.get("/login").text  # once
    assert victim.get(f"/tablos/{tablo.id}").status_code == 302  # and still signed out


def test_an_htmx_request_of_a_signed_out_browser_takes_the_page_to_sign_in(app, db, make_user, make_tablo, browser):
    user = make_user()
    tablo = make_tablo(owner=user)
    victim = browser(user, FIREFOX_ON_LINUX)
    change_password(browser(user))

    response = victim.post(
        f"/tablos/{tablo.id}/tasks", data={"title": "Lost?", "status": "todo"},
        headers={"HX-Request": "true", "HX-Current-URL": f"http://localhost/tablos/{tablo.id}"},
    )

    # The whole page goes to sign-in (htmx follows HX-Redirect whatever the status), and comes
    # back to the board after, not to the partial's address.
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == f"/login?next=%2Ftablos%2F{tablo.id}"
    assert PASSWORD_CHANGED in victim.get(response.headers["HX-Redirect"]).text
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Task)) == 0


def test_revoking_a_browser_twice_is_not_an_error(db, make_user, browser):
    user = make_user()
    mine = browser(user)
    browser(user, FIREFOX_ON_LINUX)
    db.session.rollback()
    session_id = db.session.scalar(select(Session.id).where(Session.user_agent == FIREFOX_ON_LINUX))
    assert mine.post(f"/account/sessions/{session_id}/revoke").status_code == 303
    second = mine.post(f"/account/sessions/{session_id}/revoke")  # a double click
    assert second.status_code == 303
    assert "That browser is signed out." in mine.get(second.headers["Location"]).text


def test_sessions_page_names_browsers_and_shows_readable_times(app, db, make_user, browser):
    user = make_user()
    mine = browser(user, CHROME_ON_WINDOWS)
    for user_agent in (FIREFOX_ON_LINUX, SAFARI_ON_IPHONE, GARBAGE, ""):
        browser(user, user_agent)
    browser(make_user(), FIREFOX_ON_LINUX)  # someone else's: not listed
    db.session.rollback()
    signed_in = (utcnow() - timedelta(days=2)).replace(second=0, microsecond=0)
    db.session.execute(update(Session).where(Session.user_agent == SAFARI_ON_IPHONE)
                       .values(created_at=signed_in, last_seen_at=utcnow() - timedelta(hours=3)))
    db.session.commit()

    page = mine.get("/account/sessions").text

    for name in ("Chrome on Windows", "Firefox on Linux", "Safari on iPhone"):
        assert page.count(f"<strong>{name}</strong>") == 1, name
    assert page.count("<strong>Unknown browser</strong>") == 2
    # The raw string is there for the curious, escaped.
    assert "&lt;script&gt;alert(&#34;ua&#34;)&lt;/script&gt; &amp; Co" in page
    assert '<script>alert("ua")' not in page
    assert SAFARI_ON_IPHONE in page
    # Times read like a person's: "26 Nov 2026, 14:05 UTC", "3 hours ago", "just now".
    assert f"signed in <time datetime=\"{signed_in.isoformat()}\">{signed_in.day} {signed_in:%b %Y, %H:%M} UTC</time>" in page
    assert "last active 3 hours ago" in page
    assert page.count("active just now") == 4
    assert "Times are in UTC." in page


def test_prune_deletes_tombstones_once_their_session_would_have_expired(app, db, make_user, browser, runner):
    user = make_user()
    mine = browser(user)
    recent, stale = browser(user, FIREFOX_ON_LINUX), browser(user, SAFARI_ON_IPHONE)
    assert mine.post("/account/sessions/revoke-others").status_code == 303
    db.session.rollback()
    idle = app.config["SESSION_IDLE_TIMEOUT"]
    db.session.execute(update(Session).where(Session.user_agent == SAFARI_ON_IPHONE)
                       .values(last_seen_at=utcnow() - idle - timedelta(minutes=1)))
    db.session.commit()

    result = runner.invoke(args=["sessions", "prune"])

    assert result.exit_code == 0 and "Pruned 1 expired session(s)" in result.output
    db.session.rollback()
    assert db.session.scalars(select(Session.user_agent).order_by(Session.id)).all() == [CHROME_ON_WINDOWS, FIREFOX_ON_LINUX]
    # The recent tombstone still explains; the pruned one's browser simply has no session.
    assert SIGNED_OUT_ELSEWHERE in recent.get("/login").text
    assert SIGNED_OUT_ELSEWHERE not in stale.get("/login").text
    assert mine.get("/tablos").status_code == 200


def test_migration_0004_round_trip_keeps_signed_in_browsers(app, db, make_user, browser):
    """Downgrading drops the tombstones (before 0004 a row is a signed-in browser: a tombstone
    would sign its browser back in); the signed-in browsers stay signed in both ways."""
    user = make_user()
    mine, revoked = browser(user), browser(user, FIREFOX_ON_LINUX)
    assert mine.post("/account/sessions/revoke-others").status_code == 303
    db.session.rollback()

    with app.app_context():
        downgrade(revision="0003")
        with _db.engine.connect() as conn:
            assert conn.execute(text("SELECT user_agent FROM sessions")).scalars().all() == [CHROME_ON_WINDOWS]
        upgrade()
        with _db.engine.connect() as conn:
            assert conn.execute(text("SELECT user_agent, ended_at, end_reason FROM sessions")).all() == [(CHROME_ON_WINDOWS, None, None)]
    assert mine.get("/tablos").status_code == 200
    assert revoked.get("/tablos").status_code == 302
