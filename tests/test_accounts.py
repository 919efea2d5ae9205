"""Sign-up, sign-in, sign-out and the server-side sessions behind them."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from tests.conftest import PASSWORD, csrf_sign_in, csrf_token_from, page_title, signed_in_as
from xtablo.models import Session, Tablo, User
from xtablo.models._types import utcnow


def count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def signup(client, **overrides):
    data = {"name": "Ada", "email": "ada@example.com", "password": "long enough", "confirm": "long enough"} | overrides
    return client.post("/signup", data=data)


def test_signup_creates_account_and_signs_in(client, db):
    response = signup(client, email="Ada@Example.COM")
    assert response.status_code == 303
    assert response.headers["Location"] == "/tablos"
    user = db.session.scalar(select(User))
    assert user.email == "ada@example.com"
    assert user.password_hash.startswith("$argon2id$")
    assert count(db, Session) == 1
    assert signed_in_as(client) == "Ada"


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"password": "short", "confirm": "short"}, "Use at least 8 characters."),
        ({"confirm": "something else"}, "The two passwords do not match."),
        ({"email": "not-an-email"}, "Invalid email address."),
        ({"name": ""}, "This field is required."),
        ({"name": "x" * 101}, "Field cannot be longer than 100 characters."),
    ],
)
def test_signup_rejects_bad_input_and_writes_nothing(client, db, overrides, message):
    response = signup(client, **overrides)
    assert response.status_code == 422
    assert message in response.text
    assert count(db, User) == 0


def test_email_is_unique_whatever_its_case(client, db, make_user):
    make_user(email="ada@example.com")
    response = signup(client, email="ADA@example.com")
    assert response.status_code == 422
    assert "An account already uses this email" in response.text
    assert count(db, User) == 1


def test_sign_in_and_out(client, auth, db, make_user):
    make_user(name="Bob", email="bob@example.com")
    assert signed_in_as(client) is None
    response = auth.login("BOB@example.com")
    assert response.status_code == 303
    assert count(db, Session) == 1
    assert signed_in_as(client) == "Bob"
    cookie = client.get_cookie("xtablo_session").value

    response = auth.logout()
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    page = client.get("/login").text
    assert page_title(page) == "Sign in" and "You are signed out." in page
    assert signed_in_as(client) is None
    assert count(db, Session) == 0
    # A copy of the signed-in cookie (another tab, a thief) is signed out too: its row is gone.
    client.set_cookie("xtablo_session", cookie)
    assert signed_in_as(client) is None


def test_wrong_password_and_unknown_email_get_the_same_answer(auth, db, make_user):
    make_user(email="bob@example.com")
    wrong_password = auth.login("bob@example.com", "not the password")
    unknown_email = auth.login("nobody@example.com", "not the password")
    assert wrong_password.status_code == unknown_email.status_code == 422
    assert "Wrong email or password." in wrong_password.text
    def page(response, email):  # the page, less what differs by nature: the email typed, the CSRF tokens
        # (signed with a timestamp: two requests a second apart carry different ones)
        text = re.sub(r'"X-CSRFToken": "[^"]+"', "", response.text.replace(email, "EMAIL"))
        return re.sub(r'(name="csrf_token"[^>]*value=)"[^"]+"', r"\1", text)

    assert page(wrong_password, "bob@example.com") == page(unknown_email, "nobody@example.com")
    assert count(db, Session) == 0


def test_signed_out_visitor_is_sent_to_sign_in_and_back(client, auth, make_user, make_tablo):
    user = make_user()
    tablo = make_tablo(owner=user)
    response = client.get(f"/tablos/{tablo.id}")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/login?next=%2Ftablos%2F{tablo.id}"
    response = auth.login(user, query_string={"next": f"/tablos/{tablo.id}"})
    assert response.headers["Location"] == f"/tablos/{tablo.id}"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"])
def test_next_only_redirects_to_local_paths(auth, make_user, target):
    response = auth.login(make_user(), query_string={"next": target})
    assert response.status_code == 303
    assert response.headers["Location"] == "/tablos"


def test_deleting_the_session_row_signs_the_browser_out(client, db, login_as):
    login_as()
    assert client.get("/tablos").status_code == 200
    db.session.execute(Session.__table__.delete())
    db.session.commit()
    assert client.get("/tablos").status_code == 302


def cookie_session(app, client) -> dict:
    """What the browser's signed session cookie holds."""
    return app.session_interface.get_signing_serializer(app).loads(client.get_cookie("xtablo_session").value)


@pytest.mark.parametrize("held", ["anonymous", "expired"])
def test_signing_in_rotates_whatever_cookie_the_browser_held(csrf_app, csrf_client, db, make_user, held):
    """Session fixation: someone plants a cookie in a browser (an anonymous one, whose CSRF token
    they know, or one of a session that has expired) and keeps a copy. When the person signs in
    there, the cookie, its session token and its CSRF token are new: the copy opens nothing and
    the known token forges nothing."""
    person = make_user(name="Victim")
    planter = csrf_app.test_client()
    if held == "expired":
        csrf_sign_in(planter, person)
        db.session.execute(update(Session).values(last_seen_at=utcnow() - csrf_app.config["SESSION_IDLE_TIMEOUT"] - timedelta(minutes=1)))
        db.session.commit()
    planted_token = csrf_token_from(planter.get("/login").text)
    planted = planter.get_cookie("xtablo_session").value
    planted_session = cookie_session(csrf_app, planter)
    assert signed_in_as(planter) is None

    csrf_client.set_cookie("xtablo_session", planted)
    response = csrf_client.post("/login", data={"email": person.email, "password": PASSWORD, "csrf_token": planted_token})
    assert response.status_code == 303
    assert signed_in_as(csrf_client) == "Victim"
    assert csrf_client.get_cookie("xtablo_session").value != planted
    mine = cookie_session(csrf_app, csrf_client)
    assert mine["_user_id"] != planted_session.get("_user_id")
    assert Session.by_token(mine["_user_id"]).user_id == person.id
    assert mine.get("csrf_token") != planted_session["csrf_token"]

    forged = csrf_client.post("/tablos/new", data={"title": "Planted", "color": "red", "csrf_token": planted_token})
    assert forged.status_code == 400
    assert count(db, Tablo) == 0
    assert signed_in_as(csrf_client) == "Victim"
    assert signed_in_as(planter) is None  # the planted copy


def test_a_signed_in_browser_is_not_signed_in_again(app, client, db, login_as, make_user):
    """Sign-in and sign-up send a signed-in person to their tablos: their session stays, and
    nobody else's starts in their browser."""
    me = login_as(make_user(name="Me"))
    token = cookie_session(app, client)["_user_id"]
    other = make_user(name="Other")
    assert client.post("/login", data={"email": other.email, "password": PASSWORD}).headers["Location"] == "/tablos"
    assert client.post("/signup", data={"name": "New", "email": "new@example.com", "password": "long enough", "confirm": "long enough"}).headers["Location"] == "/tablos"
    assert signed_in_as(client) == me.name
    assert cookie_session(app, client)["_user_id"] == token
    assert count(db, Session) == 1 and count(db, User) == 2


def test_cookie_flags(app, make_user, auth):
    response = auth.login(make_user())
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    user = make_user()
    https = app.test_client().post("/login", data={"email": user.email, "password": PASSWORD}, base_url="https://localhost")
    assert "Secure" in https.headers["Set-Cookie"]


@pytest.mark.parametrize("idle_for, signed_in", [(-1, True), (1, False)], ids=["just-inside", "just-past"])
def test_idle_timeout_ends_a_session(client, db, login_as, app, idle_for, signed_in):
    login_as()
    idle = app.config["SESSION_IDLE_TIMEOUT"]
    db.session.execute(update(Session).values(last_seen_at=utcnow() - idle - timedelta(minutes=idle_for)))
    db.session.commit()
    assert client.get("/tablos").status_code == (200 if signed_in else 302)


@pytest.mark.parametrize("age, signed_in", [(-1, True), (1, False)], ids=["just-inside", "just-past"])
def test_absolute_lifetime_ends_a_busy_session(client, db, login_as, app, age, signed_in):
    login_as()
    lifetime = app.config["SESSION_LIFETIME"]
    db.session.execute(update(Session).values(created_at=utcnow() - lifetime - timedelta(minutes=age), last_seen_at=utcnow()))
    db.session.commit()
    assert client.get("/tablos").status_code == (200 if signed_in else 302)


def test_activity_refreshes_last_seen(client, db, login_as):
    login_as()
    old = utcnow() - timedelta(hours=1)
    db.session.execute(update(Session).values(last_seen_at=old))
    db.session.commit()
    client.get("/tablos")
    db.session.rollback()
    assert db.session.scalar(select(Session.last_seen_at)) > old + timedelta(minutes=59)


def test_sessions_page_lists_and_revokes(app, db, make_user):
    user = make_user()
    browsers = [app.test_client() for _ in range(3)]
    for i, browser in enumerate(browsers):
        browser.post("/login", data={"email": user.email, "password": PASSWORD}, headers={"User-Agent": f"Browser {i}"})
    page = browsers[0].get("/account/sessions").text
    assert all(f"Browser {i}" in page for i in range(3))
    assert "This browser" in page

    db.session.rollback()
    other = db.session.scalar(select(Session).where(Session.user_agent == "Browser 1"))
    assert browsers[0].post(f"/account/sessions/{other.id}/revoke").status_code == 303
    assert browsers[1].get("/tablos").status_code == 302
    assert browsers[2].get("/tablos").status_code == 200

    browsers[0].post("/account/sessions/revoke-others")
    assert browsers[2].get("/tablos").status_code == 302
    assert browsers[0].get("/tablos").status_code == 200


def test_cannot_revoke_someone_elses_session(app, db, client, login_as, make_user):
    stranger = make_user()
    app.test_client().post("/login", data={"email": stranger.email, "password": PASSWORD})
    db.session.rollback()
    theirs = db.session.scalar(select(Session).where(Session.user_id == stranger.id))
    login_as()
    assert client.post(f"/account/sessions/{theirs.id}/revoke").status_code == 404
    db.session.rollback()
    assert db.session.get(Session, theirs.id) is not None


def test_password_change_revokes_other_sessions(app, db, client, login_as):
    user = login_as()
    other = app.test_client()
    assert other.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 303
    assert other.get("/tablos").status_code == 200
    response = client.post("/account/password", data={"current_password": PASSWORD, "new_password": "a new secret", "confirm": "a new secret"})
    assert response.status_code == 303
    assert other.get("/tablos").status_code == 302
    assert client.get("/tablos").status_code == 200
    client.post("/logout")
    assert client.post("/login", data={"email": user.email, "password": "a new secret"}).status_code == 303


@pytest.mark.parametrize(
    "data, message",
    [
        ({"current_password": "wrong one!", "new_password": "a new secret", "confirm": "a new secret"}, "This is not your current password."),
        ({"current_password": PASSWORD, "new_password": "short", "confirm": "short"}, "Use at least 8 characters."),
        ({"current_password": PASSWORD, "new_password": "a new secret", "confirm": "another"}, "The two passwords do not match."),
    ],
)
def test_password_change_rejects_bad_input(client, db, login_as, data, message):
    user = login_as()
    before = user.password_hash
    response = client.post("/account/password", data=data)
    assert response.status_code == 422
    assert message in response.text
    db.session.rollback()
    assert db.session.get(User, user.id).password_hash == before
