"""Sign-up, sign-in, sign-out and the server-side sessions behind them."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from tests.conftest import PASSWORD
from xtablo.models import Session, User
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
    assert "My tablos" in client.get("/tablos").text


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
    user = make_user(email="bob@example.com")
    response = auth.login("BOB@example.com")
    assert response.status_code == 303
    assert count(db, Session) == 1
    assert client.get("/tablos").status_code == 200

    assert auth.logout().status_code == 303
    db.session.rollback()
    assert count(db, Session) == 0
    assert client.get("/tablos").status_code == 302
    assert user.email == "bob@example.com"


def test_wrong_password_and_unknown_email_get_the_same_answer(auth, db, make_user):
    make_user(email="bob@example.com")
    wrong_password = auth.login("bob@example.com", "not the password")
    unknown_email = auth.login("nobody@example.com", "not the password")
    assert wrong_password.status_code == unknown_email.status_code == 422
    assert "Wrong email or password." in wrong_password.text
    def page(response, email):  # the page, less what differs by nature: the email typed, the CSRF token
        return re.sub(r'"X-CSRFToken": "[^"]+"', "", response.text.replace(email, "EMAIL"))

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


def test_session_id_is_rotated_at_sign_in(client, auth, db, make_user):
    user = make_user()
    auth.login(user)
    first = client.get_cookie("xtablo_session").value
    auth.logout()
    auth.login(user)
    second = client.get_cookie("xtablo_session").value
    assert first != second
    # The old cookie no longer opens a session: its row is gone.
    client.set_cookie("xtablo_session", first)
    assert client.get("/tablos").status_code == 302


def test_cookie_flags(app, make_user, auth):
    response = auth.login(make_user())
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    user = make_user()
    https = app.test_client().post("/login", data={"email": user.email, "password": PASSWORD}, base_url="https://localhost")
    assert "Secure" in https.headers["Set-Cookie"]


def test_idle_timeout_ends_a_session(client, db, login_as, app):
    login_as()
    idle = app.config["SESSION_IDLE_TIMEOUT"]
    db.session.execute(update(Session).values(last_seen_at=utcnow() - idle - timedelta(minutes=1)))
    db.session.commit()
    assert client.get("/tablos").status_code == 302


def test_absolute_lifetime_ends_a_busy_session(client, db, login_as, app):
    login_as()
    lifetime = app.config["SESSION_LIFETIME"]
    db.session.execute(update(Session).values(created_at=utcnow() - lifetime - timedelta(minutes=1), last_seen_at=utcnow()))
    db.session.commit()
    assert client.get("/tablos").status_code == 302


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
    other.post("/login", data={"email": user.email, "password": PASSWORD})
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
