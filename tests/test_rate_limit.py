"""Failed sign-ins are limited per account and per IP, in storage every worker shares."""

from sqlalchemy import func, select

from tests.conftest import PASSWORD, Client, TestingConfig
from xtablo import create_app
from xtablo.models import Session

LIMIT_MESSAGE = "Too many failed sign-ins"


def fail(client, email, ip="10.0.0.1"):
    return client.post("/login", data={"email": email, "password": "wrong password"}, environ_base={"REMOTE_ADDR": ip})


def test_account_is_locked_after_five_failures_even_for_the_right_password(client, db, make_user):
    user = make_user()
    for attempt in range(5):
        assert fail(client, user.email, ip=f"10.0.0.{attempt}").status_code == 422
    response = client.post("/login", data={"email": user.email, "password": PASSWORD}, environ_base={"REMOTE_ADDR": "10.0.1.1"})
    assert response.status_code == 429
    assert LIMIT_MESSAGE in response.text
    assert db.session.scalar(select(func.count()).select_from(Session)) == 0


def test_unknown_email_is_limited_like_a_known_one(client, make_user):
    known = make_user()
    answers = {}
    for email in (known.email, "ghost@example.com"):
        for _ in range(5):
            fail(client, email)
        response = fail(client, email)
        answers[email] = (response.status_code, LIMIT_MESSAGE in response.text)
    assert answers[known.email] == answers["ghost@example.com"] == (429, True)


def test_ip_is_limited_across_accounts(client, make_user):
    user = make_user()
    for i in range(30):
        fail(client, f"someone{i}@example.com", ip="10.9.9.9")
    response = client.post("/login", data={"email": user.email, "password": PASSWORD}, environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert response.status_code == 429
    ok = client.post("/login", data={"email": user.email, "password": PASSWORD}, environ_base={"REMOTE_ADDR": "10.9.9.10"})
    assert ok.status_code == 303


def test_success_clears_the_account_count(client, make_user):
    user = make_user()
    for _ in range(4):
        fail(client, user.email)
    assert client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 303
    client.post("/logout")
    for _ in range(4):
        assert fail(client, user.email).status_code == 422


def test_counts_are_shared_between_workers(app, app_env, db, make_user):
    """A second app instance on the same configuration (another gunicorn worker) sees the count."""
    user = make_user()
    other_worker = create_app(TestingConfig(app_env))
    other_worker.test_client_class = Client
    first, second = app.test_client(), other_worker.test_client()
    try:
        for client in (first, second, first, second, first):
            fail(client, user.email)
        assert fail(second, user.email).status_code == 429
    finally:
        with other_worker.app_context():
            db.engine.dispose()
