"""Error pages: in the app's layout, without the database and without a new session cookie;
a database that is down or too slow gets a clear "try again" page, fast."""

import re
import time

import pytest
from sqlalchemy import select, text

from tests.conftest import PASSWORD, Client, FrozenServer, TestingConfig
from xtablo import create_app
from xtablo.extensions import db as _db
from xtablo.models import Tablo, Task


def test_a_refused_post_sets_no_cookie_and_keeps_the_visitor_signed_in(csrf_app, db, make_user):
    """A cross-site form post arrives without the SameSite=Lax cookie: the "form expired" page
    must not answer with a fresh session cookie, which would replace the signed-in one."""
    user = make_user()
    browser = csrf_app.test_client()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', browser.get("/login").text).group(1)
    assert browser.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token}).status_code == 303
    signed_in = browser.get_cookie("xtablo_session").value

    cross_site = csrf_app.test_client()  # the same browser, as the cross-site post reaches us: no cookie
    response = cross_site.post("/tablos/new", data={"title": "Forged", "color": "red"})
    assert response.status_code == 400
    assert "This form has expired" in response.text
    assert "Set-Cookie" not in response.headers
    assert 'class="brand"' in response.text  # the app's own layout

    assert browser.get_cookie("xtablo_session").value == signed_in
    assert browser.get("/tablos").status_code == 200
    assert db.session.scalar(select(Tablo)) is None


@pytest.mark.parametrize("path, method", [("/nowhere", "GET"), ("/logout", "GET"), ("/tablos/999", "GET")])
def test_error_pages_set_no_cookie(client, login_as, path, method):
    login_as()
    response = client.open(path, method=method)
    assert response.status_code in {"/nowhere": {404}, "/logout": {405}, "/tablos/999": {404}}[path]
    assert "Set-Cookie" not in response.headers
    assert 'class="brand"' in response.text


@pytest.fixture
def signed_in_cookie(app, make_user):
    user = make_user()
    browser = app.test_client()
    assert browser.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 303
    return browser.get_cookie("xtablo_session").value


def test_a_database_that_does_not_answer_gets_a_clear_page_fast(backend, app_env, tmp_path, signed_in_cookie):
    frozen = FrozenServer()
    if backend == "postgresql":
        url = f"postgresql+psycopg://postgres@127.0.0.1:{frozen.port}/test"
    else:
        url = f"sqlite:///{tmp_path}/missing-directory/xtablo.sqlite"  # cannot be opened
    down = create_app(TestingConfig(app_env | {"DATABASE_URL": url, "DATABASE_CONNECT_TIMEOUT": "1"}))
    down.test_client_class = Client
    try:
        browser = down.test_client()
        browser.set_cookie("xtablo_session", signed_in_cookie)
        started = time.monotonic()
        response = browser.get("/tablos")
        assert time.monotonic() - started < 4
        assert response.status_code == 503
        assert "cannot reach its database" in response.text
        assert 'class="brand"' in response.text
        assert "Set-Cookie" not in response.headers
    finally:
        frozen.close()
        with down.app_context():
            _db.engine.dispose()


def test_a_statement_that_waits_too_long_gives_up_cleanly(backend, app, app_env, db, make_user, make_tablo):
    """Another transaction holds the board's lock (a stuck request, a long migration): a move
    waits DATABASE_STATEMENT_TIMEOUT, then answers 503 and changes nothing."""
    user = make_user()
    tablo = make_tablo(owner=user, tasks=2)
    task_id = db.session.scalar(select(Task.id).where(Task.position == 0))
    tablo_id = tablo.id
    impatient = create_app(TestingConfig(app_env | {"DATABASE_STATEMENT_TIMEOUT": "1"}))
    impatient.test_client_class = Client
    browser = impatient.test_client()
    assert browser.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 303

    db.session.rollback()  # the test's own reads hold no lock
    holder = _db.engine.connect()
    try:
        holder.begin()  # outside a request: BEGIN IMMEDIATE on SQLite, the write lock
        holder.execute(text("SELECT id FROM tablos WHERE id = :id FOR UPDATE" if backend == "postgresql"
                            else "SELECT id FROM tablos WHERE id = :id"), {"id": tablo_id})
        started = time.monotonic()
        response = browser.post(f"/tablos/{tablo_id}/tasks/{task_id}/move", data={"status": "done", "position": "1"})
        waited = time.monotonic() - started
    finally:
        holder.rollback()
        holder.close()
        with impatient.app_context():
            _db.engine.dispose()
    assert response.status_code == 503
    assert "too busy to answer" in response.text
    assert 0.9 < waited < 4
    db.session.rollback()
    assert db.session.get(Task, task_id).status == "todo"


@pytest.mark.parametrize("path", ["/login", "/healthz", "/tablos"])
def test_a_host_header_that_cannot_be_parsed_is_a_bad_request(client, path):
    response = client.get(path, headers={"Host": "a" * 64})  # a DNS label is at most 63
    assert response.status_code == 400
    assert "<h1>Bad request</h1>" in response.text
