"""CSRF on every state-changing request, security headers, escaping."""

import re

import pytest
from sqlalchemy import func, select

from tests.conftest import PASSWORD, csrf_sign_in, page_title, signed_in_as
from tests.test_authorization import CASES, EFFECTS, MATRIX, MESSAGE_AUTHOR, OWN_ROWS_BELONG_TO, Outcome, request_for, snapshot, world  # noqa: F401  (world is a fixture)
from xtablo.models import Session


def header_token(html: str) -> str:
    """The token htmx sends (as X-CSRFToken) from this page."""
    return re.search(r'hx-headers=\'\{"X-CSRFToken": "([^"]+)"\}\'', html).group(1)


def test_sign_in_without_token_is_refused(csrf_client, db, make_user):
    user = make_user()
    response = csrf_client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 400
    assert "This form has expired" in response.text
    assert db.session.scalar(select(func.count()).select_from(Session)) == 0


# Posts that carry no CSRF token, on purpose, and what proves them instead. Apple's answer comes
# cross-site from Apple's page: its state (bound to this browser's session) and nonce are checked
# (tests/test_social_sign_in.py: forged, replayed and malformed answers are refused).
CSRF_EXEMPT = {"auth.apple_callback": "xtablo.blueprints.auth.oauth.callback"}


def test_only_the_listed_views_skip_the_token(csrf_app):
    assert csrf_app.extensions["csrf"]._exempt_views == set(CSRF_EXEMPT.values())


@pytest.mark.parametrize("endpoint", [endpoint for endpoint, method in CASES if method == "POST" and endpoint not in CSRF_EXEMPT])
def test_every_post_needs_the_token(csrf_app, csrf_client, db, world, endpoint):
    """Every POST route of the authorization matrix, by someone allowed to make it: without the
    token, or with a forged one, it is refused and changes nothing; with it, it does its job."""
    ids, users = world
    visitor = {"own": OWN_ROWS_BELONG_TO, "link's": "stranger", "author": MESSAGE_AUTHOR}.get(MATRIX[endpoint]["POST"][0], "owner")
    csrf_sign_in(csrf_client, users[visitor])
    url, data = request_for(csrf_app, endpoint, "POST", ids)
    before = snapshot(db)

    for forged in ({}, {"headers": {"HX-Request": "true"}}, {"headers": {"X-CSRFToken": "forged"}},
                   {"data": data | {"csrf_token": "forged"}}):
        response = csrf_client.post(url, **{"data": data} | forged)
        assert response.status_code == 400
        assert "This form has expired" in response.text
    assert snapshot(db) == before
    assert signed_in_as(csrf_client) == users[visitor].name

    token = header_token(csrf_client.get("/tablos").text)
    response = csrf_client.post(url, data=data, headers={"X-CSRFToken": token})
    assert response.status_code < 400
    assert EFFECTS[endpoint, "POST"](Outcome(response, csrf_client, visitor, users[visitor], ids))


def test_htmx_sends_the_token_as_a_header(csrf_client, db, make_user, make_tablo):
    user = make_user()
    tablo = make_tablo(owner=user, tasks=1)
    csrf_sign_in(csrf_client, user)
    token = header_token(csrf_client.get(f"/tablos/{tablo.id}").text)
    response = csrf_client.post(f"/tablos/{tablo.id}/tasks", data={"title": "Via htmx", "status": "todo"},
                                headers={"HX-Request": "true", "X-CSRFToken": token})
    assert response.status_code == 200
    assert "Via htmx" in response.text


def test_security_headers(client, login_as, make_tablo):
    tablo = make_tablo(owner=login_as(), title="Board", tasks=2)
    for path, title in (("/tablos", "My tablos"), (f"/tablos/{tablo.id}", "Board")):
        response = client.get(path)
        assert page_title(response.text) == title  # the page itself, not an error page
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
    assert "&lt;img src=x onerror=alert(1)&gt;" in page  # the card is drawn, escaped
