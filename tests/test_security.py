"""CSRF on every state-changing request, security headers, escaping."""

import re

import pytest
from sqlalchemy import func, select

from tests.conftest import PASSWORD, Client, TestingConfig
from xtablo import create_app
from xtablo.extensions import db as _db
from xtablo.models import Session, Tablo, Task


@pytest.fixture
def csrf_client(app_env, app):
    """A client of an app with CSRF protection on, as in production."""
    config = TestingConfig(app_env)
    config.WTF_CSRF_ENABLED = True
    csrf_app = create_app(config)
    csrf_app.test_client_class = Client
    yield csrf_app.test_client()
    with csrf_app.app_context():
        _db.engine.dispose()


def token_from(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def sign_in(client, user):
    token = token_from(client.get("/login").text)
    assert client.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token}).status_code == 303


def test_sign_in_without_token_is_refused(csrf_client, db, make_user):
    user = make_user()
    response = csrf_client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 400
    assert "This form has expired" in response.text
    assert db.session.scalar(select(func.count()).select_from(Session)) == 0


@pytest.mark.parametrize(
    "path, data",
    [
        ("/tablos/new", {"title": "T", "color": "blue"}),
        ("/tablos/{tablo}/edit", {"title": "Renamed", "color": "red"}),
        ("/tablos/{tablo}/delete", {}),
        ("/tablos/{tablo}/tasks", {"title": "T", "status": "todo"}),
        ("/tablos/{tablo}/tasks/{task}", {"title": "Renamed", "status": "done"}),
        ("/tablos/{tablo}/tasks/{task}/move", {"status": "done", "position": 1}),
        ("/tablos/{tablo}/tasks/{task}/delete", {}),
        ("/account/password", {"current_password": PASSWORD, "new_password": "another one", "confirm": "another one"}),
        ("/account/sessions/revoke-others", {}),
        ("/logout", {}),
    ],
)
def test_every_form_post_needs_the_token(csrf_client, db, make_user, make_tablo, path, data):
    user = make_user()
    tablo = make_tablo(owner=user, title="Kept", tasks=1)
    task = db.session.scalar(select(Task))
    sign_in(csrf_client, user)
    url = path.format(tablo=tablo.id, task=task.id)
    for headers in ({}, {"HX-Request": "true"}, {"X-CSRFToken": "forged"}):
        assert csrf_client.post(url, data=data, headers=headers).status_code == 400
    db.session.rollback()
    assert db.session.get(Tablo, tablo.id).title == "Kept"
    assert db.session.get(Task, task.id).status == "todo"
    assert csrf_client.get("/tablos").status_code == 200  # still signed in


def test_htmx_sends_the_token_as_a_header(csrf_client, db, make_user, make_tablo):
    user = make_user()
    tablo = make_tablo(owner=user, tasks=1)
    sign_in(csrf_client, user)
    page = csrf_client.get(f"/tablos/{tablo.id}").text
    header_token = re.search(r'hx-headers=\'\{"X-CSRFToken": "([^"]+)"\}\'', page).group(1)
    response = csrf_client.post(f"/tablos/{tablo.id}/tasks", data={"title": "Via htmx", "status": "todo"},
                                headers={"HX-Request": "true", "X-CSRFToken": header_token})
    assert response.status_code == 200
    assert "Via htmx" in response.text


def test_security_headers(client, login_as):
    login_as()
    response = client.get("/tablos")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"
    assert "<script>" not in response.text and " style=" not in response.text


def test_user_content_is_escaped(client, db, login_as, make_tablo):
    tablo = make_tablo(owner=login_as(), title="<script>alert(1)</script>", tasks={"todo": ["<img src=x onerror=alert(1)>"]})
    page = client.get(f"/tablos/{tablo.id}").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page
